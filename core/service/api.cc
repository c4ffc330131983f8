#include "service/api.h"

#include <spdlog/spdlog.h>

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <set>

#include "audit/audit_reader.h"
#include "audit/note_signer.h"
#include "common/text.h"

namespace warden::service {
namespace {

// A 4xx/5xx answer that is not a warden::Error: routing and HTTP itself.
struct HttpError {
  int status;
  std::string message;
};

HttpAnswer error_answer(int status, ErrorKind kind, const std::string& message) {
  return {status, {{"error", {{"kind", error_kind_name(kind)}, {"message", message}}}}};
}

int status_for(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kInvalidInput: return 400;
    case ErrorKind::kRefused: return 403;
    case ErrorKind::kConfig: return 422;
    case ErrorKind::kEnvironment: return 503;
    case ErrorKind::kInternal: return 500;
  }
  return 500;
}

// The value of `name` in a query string "a=1&b=2", or nullopt.
std::optional<std::string_view> query_value(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    auto eq = pair.find('=');
    if (pair.substr(0, eq) == name)
      return eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

int query_int(std::string_view query, std::string_view name, int fallback) {
  auto text = query_value(query, name);
  if (!text) return fallback;
  int value = 0;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (ec != std::errc() || end != text->data() + text->size())
    throw Error(ErrorKind::kInvalidInput, "query parameter " + std::string(name) + "='" +
                                              std::string(*text) + "': expected an integer");
  return value;
}

// The JSON body as an object; `what` names the endpoint in messages.
nlohmann::json parse_body(const std::string& body, std::string_view what) {
  nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    throw Error(ErrorKind::kInvalidInput, std::string(what) + ": the body must be a JSON object");
  return j;
}

// Reads `key` of `body` as T when present; throws naming the field when it
// has the wrong type.
template <class T>
void read_field(const nlohmann::json& body, const char* key, T& out) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return;
  try {
    it->get_to(out);
  } catch (const nlohmann::json::exception&) {
    throw Error(ErrorKind::kInvalidInput,
                std::string("field '") + key + "': wrong type (" + it->type_name() + ")");
  }
}

void reject_unknown_fields(const nlohmann::json& body, const std::set<std::string>& known,
                           std::string_view what) {
  for (const auto& [key, value] : body.items())
    if (!known.contains(key))
      throw Error(ErrorKind::kInvalidInput, std::string(what) + ": unknown field '" + key + "'");
}

// The request's "files": [{"path", "content_base64"}], decoded.
std::vector<RunFile> input_files_from_json(const nlohmann::json& body) {
  std::vector<RunFile> files;
  auto it = body.find("files");
  if (it == body.end() || it->is_null()) return files;
  if (!it->is_array())
    throw Error(ErrorKind::kInvalidInput,
                "field 'files': must be a list of {path, content_base64}");
  for (std::size_t i = 0; i < it->size(); ++i) {
    const nlohmann::json& f = (*it)[i];
    std::string where = "field 'files[" + std::to_string(i) + "]'";
    if (!f.is_object() || !f.contains("path") || !f["path"].is_string() ||
        !f.contains("content_base64") || !f["content_base64"].is_string() || f.size() != 2)
      throw Error(ErrorKind::kInvalidInput,
                  where + ": must be {\"path\": string, \"content_base64\": string}");
    RunFile file{.path = f["path"].get<std::string>()};
    if (!from_base64(f["content_base64"].get<std::string>(), file.content))
      throw Error(ErrorKind::kInvalidInput, where + ": content_base64 is not base64 (RFC 4648)");
    files.push_back(std::move(file));
  }
  return files;
}

// How much of `text` ends on a whole UTF-8 character: all of it, unless it
// ends in the first bytes of a multi-byte sequence (up to 3), which then wait
// for the rest. Invalid bytes count as whole (they are replaced anyway).
std::size_t complete_utf8_prefix(std::string_view text) {
  for (std::size_t back = 1; back <= 3 && back <= text.size(); ++back) {
    auto byte = static_cast<unsigned char>(text[text.size() - back]);
    if ((byte & 0xC0) == 0x80) continue;  // a continuation byte: look further back
    std::size_t length = byte >= 0xF0 ? 4 : byte >= 0xE0 ? 3 : byte >= 0xC0 ? 2 : 1;
    return length > back ? text.size() - back : text.size();
  }
  return text.size();
}

}  // namespace

nlohmann::json assess_explained(Host& host, const ExecutionRequest& request, bool explain) {
  nlohmann::json answer = host.assess_code_only(request.code, request.language, request.file_name);
  if (explain) {
    nlohmann::json e = host.explain(request);  // the assessment is cached by now
    e.erase("assessment");
    answer["explanation"] = std::move(e);
  }
  return answer;
}

bool Api::streams(std::string_view method, std::string_view target) {
  auto question = target.find('?');
  if (method != "POST" || target.substr(0, question) != "/v1/run" ||
      question == std::string_view::npos)
    return false;
  auto value = query_value(target.substr(question + 1), "stream");
  return value && (*value == "true" || *value == "1");
}

std::string config_fingerprint(const Config& config) {
  if (config.file.empty()) return sha256_hex("built-in defaults");
  return sha256_hex(config.file.string() + "\n" + read_whole_file(config.file).value_or(""));
}

const char* error_kind_name(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kInvalidInput: return "invalid_input";
    case ErrorKind::kConfig: return "config";
    case ErrorKind::kRefused: return "refused";
    case ErrorKind::kEnvironment: return "environment";
    case ErrorKind::kInternal: return "internal";
  }
  return "internal";
}

ErrorKind error_kind_from_name(std::string_view name) {
  for (ErrorKind kind : {ErrorKind::kInvalidInput, ErrorKind::kConfig, ErrorKind::kRefused,
                         ErrorKind::kEnvironment, ErrorKind::kInternal})
    if (name == error_kind_name(kind)) return kind;
  return ErrorKind::kInternal;
}

nlohmann::json request_to_json(const ExecutionRequest& r) {
  nlohmann::json j = {{"code", r.code},
                      {"language", r.language},
                      {"file_name", r.file_name},
                      {"stdin", r.stdin_data},
                      {"args", r.args},
                      {"dependencies", r.dependencies},
                      {"confirmed", r.confirmed},
                      {"override_blocked", r.override_blocked},
                      {"override_explanation", r.override_explanation},
                      {"limits", r.limits},
                      {"metadata", r.metadata}};
  if (!r.files.empty()) {
    j["files"] = nlohmann::json::array();
    for (const RunFile& f : r.files)
      j["files"].push_back({{"path", f.path}, {"content_base64", to_base64(f.content)}});
  }
  if (!r.user.empty()) j["user"] = r.user;
  if (r.backend) j["backend"] = *r.backend;
  return j;
}

ExecutionRequest request_from_json(const nlohmann::json& body) {
  reject_unknown_fields(
      body,
      {"code", "language", "file_name", "stdin", "args", "dependencies", "files", "user",
       "confirmed", "override_blocked", "override_explanation", "backend", "limits", "metadata"},
      "request");
  if (!body.contains("code") || !body["code"].is_string())
    throw Error(ErrorKind::kInvalidInput, "field 'code': required, a string");
  ExecutionRequest r;
  read_field(body, "code", r.code);
  read_field(body, "language", r.language);
  read_field(body, "file_name", r.file_name);
  read_field(body, "stdin", r.stdin_data);
  read_field(body, "args", r.args);
  read_field(body, "dependencies", r.dependencies);
  r.files = input_files_from_json(body);
  read_field(body, "user", r.user);
  read_field(body, "confirmed", r.confirmed);
  read_field(body, "override_blocked", r.override_blocked);
  read_field(body, "override_explanation", r.override_explanation);
  std::string backend;
  read_field(body, "backend", backend);
  if (!backend.empty()) r.backend = backend;
  read_field(body, "limits", r.limits);
  if (body.contains("metadata") && !body["metadata"].is_null()) {
    if (!body["metadata"].is_object())
      throw Error(ErrorKind::kInvalidInput, "field 'metadata': must be a JSON object");
    r.metadata = body["metadata"];
  }
  return r;
}

Api::Api(Host& host, const Config& config, std::function<nlohmann::json()> service_status)
    : host_(host),
      config_(config),
      fingerprint_(config_fingerprint(config)),
      service_status_(std::move(service_status)) {}

bool Api::is_delegate(const std::string& user) const {
  const auto& delegates = config_.service.delegates;
  return std::find(delegates.begin(), delegates.end(), user) != delegates.end();
}

std::string Api::requester(const PeerCredentials& peer, const std::string& named) const {
  std::string own = user_name(peer.uid);
  if (named.empty() || named == own) return own;
  if (is_delegate(own)) return named;
  throw Error(ErrorKind::kRefused, own + " (uid " + std::to_string(peer.uid) +
                                       ") may not speak for '" + named +
                                       "': only the users in service.delegates may name another "
                                       "user");
}

HttpAnswer Api::handle(const ApiCall& call) const {
  std::string_view target = call.target;
  auto question = target.find('?');
  std::string_view path = target.substr(0, question);
  std::string_view query =
      question == std::string_view::npos ? std::string_view{} : target.substr(question + 1);
  if (!call.fingerprint.empty() && call.fingerprint != fingerprint_)
    return error_answer(
        409, ErrorKind::kConfig,
        "this warden service runs with another configuration (" + config_.file.string() + ")");
  try {
    return {200, route(call, path, query)};
  } catch (const HttpError& e) {
    return error_answer(e.status, ErrorKind::kInvalidInput, e.message);
  } catch (const Error& e) {
    return error_answer(status_for(e.kind()), e.kind(), e.what());
  } catch (const std::exception& e) {
    spdlog::error("service: {} {}: {}", call.method, path, e.what());
    return error_answer(500, ErrorKind::kInternal, e.what());
  }
}

nlohmann::json Api::route(const ApiCall& call, std::string_view path,
                          std::string_view query) const {
  auto expect = [&](std::string_view method) {
    if (call.method != method)
      throw HttpError{405, std::string(path) + " takes " + std::string(method) + ", not " +
                               std::string(call.method)};
  };
  // Who the request is from goes into the request and its audit records.
  // A call relayed by the service's MCP server is the relayed client's; the
  // MCP server itself is named in service_relay.
  auto identify = [&](ExecutionRequest& request) {
    const PeerCredentials& peer = call.relayed_for.value_or(call.peer);
    request.user = requester(peer, request.user);
    request.user_verified = true;
    request.metadata["service_peer"] = {{"uid", peer.uid}, {"pid", peer.pid}};
    if (call.relayed_for)
      request.metadata["service_relay"] = {
          {"via", "mcp"}, {"uid", call.peer.uid}, {"pid", call.peer.pid}};
  };
  if (path == "/v1/run") {
    expect("POST");
    ExecutionRequest request = request_from_json(parse_body(call.body, "POST /v1/run"));
    identify(request);
    request.cancelled = call.cancelled;
    // A streamed run's text per stream, each event ending on a whole UTF-8
    // character: the start of a character split between pieces is held here
    // until its rest comes.
    std::map<std::string, std::string> held;
    auto send = [&](std::string_view stream, std::string_view text) {
      bool replaced = false;
      if (!text.empty()) call.emit({{std::string(stream), valid_utf8(text, replaced)}});
    };
    if (call.emit)
      request.on_output = [&](std::string_view stream, std::string_view bytes) {
        std::string& text = held.try_emplace(std::string(stream)).first->second;
        text.append(bytes);
        std::size_t whole = complete_utf8_prefix(text);
        send(stream, std::string_view(text).substr(0, whole));
        text.erase(0, whole);
      };
    nlohmann::json result = host_.assess_and_execute(request).to_json();
    for (const auto& [stream, rest] : held) send(stream, rest);
    return result;
  }
  if (path == "/v1/explain") {
    expect("POST");
    ExecutionRequest request = request_from_json(parse_body(call.body, "POST /v1/explain"));
    identify(request);
    return host_.explain(request);
  }
  if (path == "/v1/assess") {
    expect("POST");
    nlohmann::json body = parse_body(call.body, "POST /v1/assess");
    reject_unknown_fields(body, {"code", "language", "file_name", "explain"}, "POST /v1/assess");
    ExecutionRequest request;  // the fields assess and explain share
    read_field(body, "code", request.code);
    read_field(body, "language", request.language);
    read_field(body, "file_name", request.file_name);
    bool explain = false;
    read_field(body, "explain", explain);
    identify(request);
    return assess_explained(host_, request, explain);
  }
  if (path == "/v1/status") {
    expect("GET");
    nlohmann::json status = host_.get_security_status();
    status["service"] = service_status_();
    return status;
  }
  if (path == "/v1/history") {
    expect("GET");
    return host_.get_execution_history(query_int(query, "limit", 10));
  }
  if (path == "/v1/report") {
    expect("GET");
    return host_.get_audit_report(query_int(query, "hours", 24));
  }
  if (path == "/v1/policy/reload") {
    expect("POST");
    // Which policy every client gets is the service's owner's choice: any
    // client could otherwise make it re-read a folder being edited.
    if (std::string own = user_name(call.peer.uid);
        call.peer.uid != 0 && call.peer.uid != ::geteuid() && !is_delegate(own))
      throw Error(ErrorKind::kRefused, own + " (uid " + std::to_string(call.peer.uid) +
                                           ") may not reload the policies: only root, the "
                                           "service's own user and service.delegates may");
    return host_.configure_policies(PolicyUpdate{.directory = config_.policies.directory.string()});
  }
  if (path == "/v1/audit/verify") {
    expect("GET");
    const AuditConfig& a = config_.audit;
    return audit::verify_log(a.directory, a.origin, audit::read_verifier_key(a.public_key),
                             std::nullopt)
        .to_json();
  }
  if (path == "/mcp")  // served by the Server itself when service.mcp is auto
    throw HttpError{404, "MCP is not served on this socket (service.mcp: never)"};
  throw HttpError{404, "no such endpoint: " + std::string(path) + " (docs/service.md)"};
}

}  // namespace warden::service
