#include "alert/alerter.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>

#include "audit/log_format.h"
#include "pipeline/audit_records.h"

namespace warden::alert {
namespace {

using Clock = std::chrono::steady_clock;

const std::vector<std::string> kSinkNames = {kSyslog, kWebhook};

// The verdict when the policy has no alert() or it failed: every critical
// event is an alert (the shipped policies/default/alert.lua says the same).
policy::AlertVerdict default_verdict(const nlohmann::json& event) {
  static const std::map<std::string, std::string> kSeverity = {{"blocked", "warning"},
                                                               {"override", "notice"},
                                                               {"resource_violation", "warning"},
                                                               {"policy_failure", "error"},
                                                               {"audit_damage", "critical"}};
  policy::AlertVerdict v;
  auto it = kSeverity.find(event.value("kind", ""));
  v.raise = true;
  v.severity = it == kSeverity.end() ? "warning" : it->second;
  return v;
}

// "warden blocked by mai: <reason>", when the policy words none.
std::string default_message(const nlohmann::json& event) {
  std::string kind = event.value("kind", "event");
  std::replace(kind.begin(), kind.end(), '_', ' ');
  std::string user = event.value("user", "");
  return "warden " + kind + (user.empty() ? "" : " by " + user) + ": " + event.value("reason", "");
}

}  // namespace

std::vector<std::string> Alerter::enabled_sinks(const AlertsConfig& config) {
  std::vector<std::string> sinks;
  if (config.syslog.enabled) sinks.push_back(kSyslog);
  if (!config.webhook.url.empty()) sinks.push_back(kWebhook);
  return sinks;
}

Alerter::Alerter(const AlertsConfig& config, policy::PolicyEngine& policy, audit::AuditLog* audit)
    : config_(config), sinks_(enabled_sinks(config)), policy_(policy), audit_(audit) {
  worker_ = std::thread([this] { work(); });
}

Alerter::~Alerter() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    flush_deadline_ = Clock::now() + std::chrono::milliseconds(config_.flush_timeout_ms);
    attempt_deadline_ = std::min(attempt_deadline_.load(), flush_deadline_);
  }
  wake_.notify_all();
  worker_.join();
}

void Alerter::raise(nlohmann::json event) {
  {
    std::lock_guard lock(mutex_);
    make_room();
    events_.push_back(std::move(event));
    ++counts_.events;
  }
  wake_.notify_all();
}

Alerter::Counts Alerter::counts() const {
  std::lock_guard lock(mutex_);
  Counts c = counts_;
  c.queued = events_.size() + deliveries_.size();
  return c;
}

void Alerter::make_room() {
  if (events_.size() + deliveries_.size() < config_.max_queued) return;
  ++counts_.dropped;
  if (!events_.empty()) {
    spdlog::warn("alert queue full ({} waiting): dropped the oldest event, {}", config_.max_queued,
                 events_.front().value("kind", ""));
    events_.pop_front();
  } else {
    spdlog::warn("alert queue full ({} waiting): dropped the oldest delivery, alert {} to {}",
                 config_.max_queued, deliveries_.front().alert->id, deliveries_.front().sink);
    deliveries_.pop_front();
  }
}

std::uint64_t Alerter::retries(const std::string& sink) const {
  return sink == kWebhook ? config_.webhook.retries : 0;  // a datagram either goes or not
}

void Alerter::work() {
  std::unique_lock lock(mutex_);
  for (;;) {
    auto now = Clock::now();
    if (stopping_ && now >= flush_deadline_) break;
    if (!events_.empty()) {
      nlohmann::json event = std::move(events_.front());
      events_.pop_front();
      lock.unlock();
      std::optional<Alert> decided = decide(event);
      lock.lock();
      if (!decided) continue;
      ++counts_.alerts;
      auto alert = std::make_shared<const Alert>(std::move(*decided));
      for (const auto& sink : alert->sinks) {
        make_room();
        deliveries_.push_back(Delivery{alert, sink, 0, Clock::now(), ""});
      }
      continue;
    }
    auto next =
        std::min_element(deliveries_.begin(), deliveries_.end(),
                         [](const Delivery& a, const Delivery& b) { return a.due < b.due; });
    if (next == deliveries_.end()) {
      if (stopping_) break;
      wake_.wait(lock);
      continue;
    }
    if (stopping_ && next->due > flush_deadline_) break;  // no attempt left before it
    if (next->due > now) {
      wake_.wait_until(lock, stopping_ ? std::min(next->due, flush_deadline_) : next->due);
      continue;
    }
    Delivery d = std::move(*next);
    deliveries_.erase(next);
    auto deadline = now + std::chrono::milliseconds(config_.webhook.timeout_ms);
    attempt_deadline_ = stopping_ ? std::min(deadline, flush_deadline_) : deadline;
    lock.unlock();
    std::optional<std::string> error = attempt(d);
    ++d.attempts;
    bool give_up = error && d.attempts > retries(d.sink);
    if (give_up) record_failure(d, *error);
    lock.lock();
    if (!error) {
      ++counts_.delivered;
    } else if (give_up) {
      ++counts_.failed;
    } else {
      d.last_error = *error;
      d.due = Clock::now() + std::chrono::milliseconds(config_.webhook.backoff_ms) *
                                 (std::uint64_t{1} << std::min<std::uint64_t>(d.attempts - 1, 20));
      make_room();
      deliveries_.push_back(std::move(d));
    }
  }
  // Shutting down past the flush deadline: what is left is not delivered.
  counts_.dropped += events_.size();
  events_.clear();
  std::deque<Delivery> left = std::move(deliveries_);
  deliveries_.clear();
  counts_.failed += left.size();
  lock.unlock();
  for (const Delivery& d : left)
    record_failure(d, "warden stopped before it was delivered" +
                          (d.last_error.empty() ? "" : " (last error: " + d.last_error + ")"));
}

std::optional<Alert> Alerter::decide(const nlohmann::json& event) {
  // A failure of alert() itself is decided by the default: asking alert()
  // about its own failure could fail again, and again.
  bool about_alert =
      event.value("kind", "") == "policy_failure" && event.value("function", "") == "alert";
  policy::AlertVerdict v;
  const char* decided_by = "policy";
  if (!about_alert) {
    try {
      v = policy_.alert(event, kSinkNames);
    } catch (const std::exception& e) {  // no policy state to call it on (a reload went bad)
      spdlog::error("could not ask the policy's alert(): {}", e.what());
      v.stop = policy::PolicyStop{policy::PolicyStop::Kind::kFailed, "alert", e.what()};
    }
  }
  if (about_alert || !v.defined || v.stop) {
    v = default_verdict(event);
    decided_by = "default";
  }
  if (!v.raise) return std::nullopt;
  Alert alert;
  alert.event = event;
  alert.severity = v.severity;
  alert.message = v.message.empty() ? default_message(event) : v.message;
  for (const auto& sink : sinks_)
    if (!v.sinks || std::find(v.sinks->begin(), v.sinks->end(), sink) != v.sinks->end())
      alert.sinks.push_back(sink);
  spdlog::warn("alert ({}): {}", alert.severity, alert.message);
  if (audit_ != nullptr) {
    try {
      alert.id = audit_
                     ->append(audit::kind::kAlert,
                              pipeline::records::alert(event, alert.severity, alert.message,
                                                       alert.sinks, decided_by))
                     .id;
    } catch (const std::exception& e) {
      spdlog::error("could not audit the alert: {}", e.what());
    }
  }
  return alert;
}

std::optional<std::string> Alerter::attempt(const Delivery& d) {
  try {
    if (d.sink == kSyslog)
      send_syslog(config_.syslog, *d.alert);
    else
      post_webhook(config_.webhook, *d.alert, attempt_deadline_);
    return std::nullopt;
  } catch (const std::exception& e) {
    return e.what();
  }
}

void Alerter::record_failure(const Delivery& d, const std::string& error) {
  spdlog::error("alert {} not delivered to {} after {} attempt(s): {}", d.alert->id, d.sink,
                d.attempts, error);
  if (audit_ == nullptr) return;
  try {
    audit_->append(
        audit::kind::kAlertFailure,
        pipeline::records::alert_failure(d.alert->event, d.alert->id, d.sink, d.attempts, error));
  } catch (const std::exception& e) {
    spdlog::error("could not audit the failed alert: {}", e.what());
  }
}

}  // namespace warden::alert
