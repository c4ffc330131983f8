// One sandboxed Lua 5.4 state for policy code: text chunks only, a safe subset
// of the standard library, an instruction budget that pcall cannot swallow, a
// memory cap through the allocator, a wall-clock deadline checked as Lua runs,
// and string functions whose work is bounded before they start (Lua's own
// pattern matcher and string.rep cannot be interrupted once inside C).
//
// Not thread-safe: one LuaSandbox per thread at a time (PolicyEngine pools them).
#pragma once

#include <lua5.4/lua.hpp>

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace warden::policy {

struct Budget {
  std::uint64_t instructions = 1'000'000;
  std::uint64_t memory_bytes = 32ull << 20;
  std::uint64_t wall_time_ms = 100;
};

// Why a call failed, for fail-closed decisions: "file:line: in function 'f': message".
class PolicyFailure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class LuaSandbox {
 public:
  explicit LuaSandbox(const Budget& budget);
  ~LuaSandbox();
  LuaSandbox(const LuaSandbox&) = delete;
  LuaSandbox& operator=(const LuaSandbox&) = delete;

  // Runs a text chunk in the policy environment. `chunk_name` is the file
  // path used in messages. Throws PolicyFailure (syntax errors included).
  void load(const std::string& source, const std::string& chunk_name);
  // After loading: globals and every table reachable from them become
  // read-only, so no call can keep state for the next one.
  void freeze();
  bool has_function(const std::string& name);
  // Converts a value to a Lua table once, for several calls (see Arg::pinned);
  // unpin() lets it be collected.
  int pin(const nlohmann::json& value);
  void unpin(int ref);
  // A call argument: JSON converted for this call (by reference: an
  // assessment is large and never copied), or a value pinned earlier.
  class Arg {
   public:
    Arg(const nlohmann::json& value) : json_(&value) {}  // NOLINT: implicit by design
    static Arg pinned(int ref) { return Arg(ref); }

   private:
    explicit Arg(int ref) : ref_(ref) {}
    friend class LuaSandbox;
    const nlohmann::json* json_ = nullptr;
    int ref_ = LUA_NOREF;
  };
  using Args = std::initializer_list<Arg>;
  // Calls a global function with the arguments under the budget; returns its
  // first result as JSON. Throws PolicyFailure.
  nlohmann::json call(const std::string& function, Args args);
  // Names of the global functions whose name starts with `prefix`, sorted.
  std::vector<std::string> functions_with_prefix(const std::string& prefix);
  // Notes recorded by the policy with note(topic, text) during the last call;
  // taking them leaves none.
  std::vector<std::pair<std::string, std::string>> take_notes() { return std::move(notes_); }

  // Internal state shared with the C callbacks.
  struct State {
    Budget budget;
    std::uint64_t allocated = 0;
    std::uint64_t instructions = 0;
    std::chrono::steady_clock::time_point deadline;
    bool armed = false;     // a call is running: enforce the budget
    std::string exhausted;  // sticky: why the budget ran out during this call
    std::vector<std::pair<std::string, std::string>>* notes = nullptr;
  };

 private:
  void snapshot_upvalues();
  std::string changed_upvalue();

  lua_State* L_ = nullptr;
  State state_;
  std::vector<std::pair<std::string, std::string>> notes_;
  int upvalue_snapshot_ref_ = LUA_NOREF;
};

}  // namespace warden::policy
