// Where alerts go: syslog (a datagram to a unix socket, as glibc's syslog()
// writes to /dev/log, which journald and rsyslog read) and a webhook (an
// HTTP POST of the alert as JSON). Each call is one attempt; retrying is the
// Alerter's (alert/alerter.h).
//
// Thread safety: the functions share nothing; call them from any thread.
// Failure: Error(kEnvironment) saying which sink and why.
#pragma once

#include <atomic>
#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "config/config.h"

namespace warden::alert {

inline constexpr const char* kSyslog = "syslog";
inline constexpr const char* kWebhook = "webhook";

// An alert raised for a critical event, as the sinks deliver it.
struct Alert {
  std::string id;  // its `alert` record's id; empty when the log could not take it
  nlohmann::json event;
  std::string severity;  // one of policy::kAlertSeverities
  std::string message;
  std::vector<std::string> sinks;  // enabled sinks it goes to
};

// What the webhook receives: {"alert_id", "severity", "message", "event"}.
nlohmann::json webhook_body(const Alert& alert);

// The syslog message, RFC 3164 as glibc writes it locally:
// "<PRI>Mmm dd hh:mm:ss ident[pid]: message {event as JSON}", PRI being
// facility * 8 + severity; at most 8 KiB.
std::string syslog_message(const SyslogAlertsConfig& config, const Alert& alert);

// Sends syslog_message() to config.socket.
void send_syslog(const SyslogAlertsConfig& config, const Alert& alert);

// POSTs webhook_body() to config.url; succeeds on a 2xx answer. Over https
// the receiver's certificate must chain to config.ca_file (or the system's
// trust store) and name the URL's host. Gives up at
// `deadline` (connect, send and the answer together), which another thread
// may move earlier while the attempt runs (the Alerter does, at shutdown).
void post_webhook(const WebhookAlertsConfig& config, const Alert& alert,
                  const std::atomic<std::chrono::steady_clock::time_point>& deadline);

}  // namespace warden::alert
