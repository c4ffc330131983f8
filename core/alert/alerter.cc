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
    : config_(config), policy_(policy), audit_(audit) {
  for (const auto& sink : enabled_sinks(config)) {
    lanes_.push_back(std::make_unique<Lane>());
    lanes_.back()->sink = sink;
  }
  for (auto& lane : lanes_) lane->thread = std::thread([this, &lane = *lane] { deliver(lane); });
  decider_ = std::thread([this] { decide_events(); });
}

Alerter::~Alerter() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    flush_deadline_ = Clock::now() + std::chrono::milliseconds(config_.flush_timeout_ms);
    for (auto& lane : lanes_)
      lane->attempt_deadline = std::min(lane->attempt_deadline.load(), flush_deadline_);
  }
  wake_.notify_all();
  decider_.join();
  for (auto& lane : lanes_) lane->thread.join();
}

void Alerter::raise(nlohmann::json event) {
  {
    std::lock_guard lock(mutex_);
    make_room(events_, "event");
    events_.push_back(std::move(event));
    ++counts_.events;
  }
  wake_.notify_all();
}

Alerter::Counts Alerter::counts() const {
  std::lock_guard lock(mutex_);
  Counts c = counts_;
  c.queued = events_.size();
  for (const auto& lane : lanes_) c.queued += lane->queue.size();
  return c;
}

template <typename Queue>
void Alerter::make_room(Queue& queue, const char* what) {
  if (queue.size() < config_.max_queued) return;
  ++counts_.dropped;
  spdlog::warn("alert queue full ({} waiting): dropped the oldest {}", config_.max_queued, what);
  queue.pop_front();
}

std::uint64_t Alerter::retries(const std::string& sink) const {
  return sink == kWebhook ? config_.webhook.retries : 0;  // a datagram either goes or not
}

void Alerter::decide_events() {
  std::unique_lock lock(mutex_);
  for (;;) {
    if (stopping_ && (events_.empty() || Clock::now() >= flush_deadline_)) break;
    if (events_.empty()) {
      wake_.wait(lock);
      continue;
    }
    nlohmann::json event = std::move(events_.front());
    events_.pop_front();
    lock.unlock();
    std::optional<Alert> decided = decide(event);
    lock.lock();
    if (!decided) continue;
    ++counts_.alerts;
    auto alert = std::make_shared<const Alert>(std::move(*decided));
    for (auto& lane : lanes_) {
      if (std::find(alert->sinks.begin(), alert->sinks.end(), lane->sink) == alert->sinks.end())
        continue;
      make_room(lane->queue, ("delivery to " + lane->sink).c_str());
      lane->queue.push_back(Delivery{alert, 0, Clock::now(), ""});
    }
    wake_.notify_all();
  }
  counts_.dropped += events_.size();  // past the flush deadline
  events_.clear();
  decided_all_ = true;
  wake_.notify_all();
}

void Alerter::deliver(Lane& lane) {
  std::unique_lock lock(mutex_);
  for (;;) {
    auto now = Clock::now();
    if (stopping_ && now >= flush_deadline_) {
      wake_.wait(lock, [this] { return decided_all_; });  // the last alert it is deciding
      break;
    }
    // Retries are queued behind new deliveries: the one due first goes next.
    auto next =
        std::min_element(lane.queue.begin(), lane.queue.end(),
                         [](const Delivery& a, const Delivery& b) { return a.due < b.due; });
    if (next == lane.queue.end()) {
      if (decided_all_) break;
      wake_.wait(lock);
      continue;
    }
    if (stopping_ && next->due > flush_deadline_) {
      if (decided_all_) break;  // no attempt left before the deadline
      wake_.wait_until(lock, flush_deadline_);
      continue;
    }
    if (next->due > now) {
      wake_.wait_until(lock, stopping_ ? std::min(next->due, flush_deadline_) : next->due);
      continue;
    }
    Delivery d = std::move(*next);
    lane.queue.erase(next);
    auto deadline = now + std::chrono::milliseconds(config_.webhook.timeout_ms);
    lane.attempt_deadline = stopping_ ? std::min(deadline, flush_deadline_) : deadline;
    lock.unlock();
    std::optional<std::string> error = attempt(lane, d);
    ++d.attempts;
    bool give_up = error && d.attempts > retries(lane.sink);
    if (give_up) record_failure(lane.sink, d, *error);
    lock.lock();
    if (!error) {
      ++counts_.delivered;
    } else if (give_up) {
      ++counts_.failed;
    } else {
      d.last_error = *error;
      auto backoff = std::chrono::milliseconds(config_.webhook.backoff_ms) *
                     (std::uint64_t{1} << std::min<std::uint64_t>(d.attempts - 1, 20));
      d.due = Clock::now() + std::min<std::chrono::milliseconds>(backoff, std::chrono::hours(24));
      make_room(lane.queue, ("delivery to " + lane.sink).c_str());
      lane.queue.push_back(std::move(d));
    }
  }
  // Shutting down past the flush deadline: what is left is not delivered.
  std::deque<Delivery> left = std::move(lane.queue);
  lane.queue.clear();
  counts_.failed += left.size();
  lock.unlock();
  for (const Delivery& d : left)
    record_failure(lane.sink, d,
                   "warden stopped before it was delivered" +
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
    } catch (const std::exception& e) {  // not a policy failure (out of memory, ...)
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
  for (const auto& sink : enabled_sinks(config_))
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

std::optional<std::string> Alerter::attempt(Lane& lane, const Delivery& d) {
  try {
    if (lane.sink == kSyslog)
      send_syslog(config_.syslog, *d.alert);
    else
      post_webhook(config_.webhook, *d.alert, lane.attempt_deadline);
    return std::nullopt;
  } catch (const std::exception& e) {
    return e.what();
  }
}

void Alerter::record_failure(const std::string& sink, const Delivery& d, const std::string& error) {
  spdlog::error("alert {} not delivered to {} after {} attempt(s): {}", d.alert->id, sink,
                d.attempts, error);
  if (audit_ == nullptr) return;
  try {
    audit_->append(
        audit::kind::kAlertFailure,
        pipeline::records::alert_failure(d.alert->event, d.alert->id, sink, d.attempts, error));
  } catch (const std::exception& e) {
    spdlog::error("could not audit the failed alert: {}", e.what());
  }
}

}  // namespace warden::alert
