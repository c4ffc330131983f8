// Alerts on critical events (issue #18): the host raises an event (a
// blocked attempt, an override used, a resource limit reached, audit damage,
// a policy failure; pipeline/alert_events.h), the policy's alert(event)
// decides whether it is an alert, how severe and where it goes (a default
// when the policy has no alert() or it fails), the alert is recorded in the
// audit log (`alert`), and each sink gets it with retries; a sink that never
// takes it is recorded too (`alert_failure`).
//
// None of that runs on the caller's time: raise() queues the event and
// returns. One thread decides and records; each sink has a thread of its own
// that delivers, so a webhook that hangs holds up neither the decisions nor
// syslog. Each queue (the events, and each sink's deliveries) holds at most
// alerts.max_queued; when one is full its oldest is dropped and counted, so a
// dead receiver can neither block a request nor grow memory without bound.
// A webhook delivery that fails waits webhook.backoff, doubling, between
// attempts, and an attempt under way holds up that sink for at most
// webhook.timeout.
//
// Thread safety: raise() and counts() may be called from many threads at
// once, and from inside the policy engine's event sink (raise() only takes
// the Alerter's own lock). The policy engine and the audit log must outlive
// the Alerter. Failure: nothing here throws to the caller; what fails is
// logged and, when the log takes it, recorded.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "alert/sinks.h"
#include "audit/audit_log.h"
#include "config/config.h"
#include "policy/policy_engine.h"

namespace warden::alert {

class Alerter {
 public:
  // `audit` may be null: a log that did not open (audit damage) cannot
  // record the alert, which is still delivered.
  Alerter(const AlertsConfig& config, policy::PolicyEngine& policy, audit::AuditLog* audit);
  // Delivers what is queued, for at most alerts.flush_timeout (an attempt
  // under way is cut short then); what is left is recorded as not delivered
  // (alert_failure), which is all it does past that deadline.
  ~Alerter();
  Alerter(const Alerter&) = delete;
  Alerter& operator=(const Alerter&) = delete;

  // Queues an event (pipeline/alert_events.h) and returns at once.
  void raise(nlohmann::json event);

  struct Counts {
    std::uint64_t events = 0;     // raised
    std::uint64_t alerts = 0;     // events the policy made alerts
    std::uint64_t delivered = 0;  // deliveries a sink took
    std::uint64_t failed = 0;     // deliveries given up (alert_failure)
    std::uint64_t dropped = 0;    // events or deliveries dropped from a full queue
    std::uint64_t queued = 0;     // waiting now
  };
  Counts counts() const;

  // The sinks `config` enables, by name (sinks.h); none: no Alerter is needed.
  static std::vector<std::string> enabled_sinks(const AlertsConfig& config);

 private:
  struct Delivery {
    std::shared_ptr<const Alert> alert;
    std::uint64_t attempts = 0;
    std::chrono::steady_clock::time_point due;
    std::string last_error;
  };
  // One sink's deliveries and the thread that makes them.
  struct Lane {
    std::string sink;
    std::deque<Delivery> queue;
    // The attempt under way gives up then; the destructor brings it forward
    // to the flush deadline.
    std::atomic<std::chrono::steady_clock::time_point> attempt_deadline{};
    std::thread thread;
  };

  void decide_events();
  void deliver(Lane& lane);
  // The policy's verdict on `event` (or the default), recorded; nullopt: no alert.
  std::optional<Alert> decide(const nlohmann::json& event);
  // One attempt; the error, or nullopt when the sink took it.
  std::optional<std::string> attempt(Lane& lane, const Delivery& d);
  void record_failure(const std::string& sink, const Delivery& d, const std::string& error);
  // Makes room for one more in `queue` (requires mutex_).
  template <typename Queue>
  void make_room(Queue& queue, const char* what);
  std::uint64_t retries(const std::string& sink) const;

  const AlertsConfig config_;
  policy::PolicyEngine& policy_;
  audit::AuditLog* const audit_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<nlohmann::json> events_;
  std::vector<std::unique_ptr<Lane>> lanes_;  // one per enabled sink
  Counts counts_;
  bool stopping_ = false;
  bool decided_all_ = false;  // stopping, and the decider has handed on its last alert
  std::chrono::steady_clock::time_point flush_deadline_;
  std::thread decider_;
};

}  // namespace warden::alert
