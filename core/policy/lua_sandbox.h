// One sandboxed Lua 5.4 state for policy code: text chunks only, a safe subset
// of the standard library, an instruction budget that pcall cannot swallow, a
// memory cap through the allocator, and a wall-clock budget that ends the call
// wherever it is, in Lua code, in a metamethod or inside a library function
// written in C (a pattern match, table.sort, table.move, string.rep, ...).
//
// The wall clock is kept by a watchdog thread shared by every sandbox of the
// process. When a call passes its deadline the watchdog signals the calling
// thread (signal kWatchdogSignal): first the call is asked to stop (the next
// Lua instruction, allocation, pcall or library callback raises the budget
// error); if it is still running one watchdog tick later (stuck in a C loop),
// the signal handler jumps out of the call and the state is abandoned: its
// memory, all of it allocated through this sandbox, is freed wholesale and the
// sandbox refuses further use.
//
// State between calls: after loading, the globals, every table and function
// reachable from them (through keys, values, metatables and the upvalues of
// Lua functions) and the modules loaded by require() become read-only, and a
// call that changes a captured local fails; finalizers (__gc), coroutines and
// the random generator are not available.
//
// Not thread-safe: one LuaSandbox per thread at a time (PolicyEngine pools them).
#pragma once

#include <warden/error.h>

#include <lua5.4/lua.hpp>

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace warden::policy {

struct Budget {
  std::uint64_t instructions = 1'000'000;
  std::uint64_t memory_bytes = 32ull << 20;
  std::uint64_t wall_time_ms = 100;
};

// A policy call that failed: "in function 'f': file:line: message". It is a
// refusal (ErrorKind::kRefused): whatever depended on the call fails closed.
class PolicyFailure : public Error {
 public:
  explicit PolicyFailure(const std::string& message) : Error(ErrorKind::kRefused, message) {}
};

// The real-time signal the watchdog sends to a thread whose policy call is
// past its wall-clock budget. Embedders must leave it alone (not blocked, no
// handler of their own).
int watchdog_signal();

// A module a policy may require(): its dotted name ("lib.scores"), the file it
// comes from and its text.
struct PolicyModule {
  std::string path;
  std::string text;
};
using PolicyModules = std::map<std::string, PolicyModule, std::less<>>;  // by module name

class LuaSandbox {
 public:
  explicit LuaSandbox(const Budget& budget);
  ~LuaSandbox();
  LuaSandbox(const LuaSandbox&) = delete;
  LuaSandbox& operator=(const LuaSandbox&) = delete;

  // The modules require() may load, while loading (see load_module). Must
  // outlive the loading.
  void set_modules(const PolicyModules* modules) { state_.modules = modules; }
  // Runs a text chunk in the policy environment. `chunk_name` is the file
  // path used in messages. Throws PolicyFailure (syntax errors included).
  void load(const std::string& source, const std::string& chunk_name);
  // Runs module `name` of set_modules() unless require() already did.
  void load_module(const std::string& name);
  // After loading: makes everything reachable read-only (see above), so no
  // call can keep state for the next one. Throws PolicyFailure.
  void freeze();
  bool has_function(const std::string& name);
  // False once the watchdog stopped a call (see call()).
  bool alive() const { return !dead_; }
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
  // What a call answered: its first result as JSON, or the reason the policy
  // gave to warden.deny() (returned or raised).
  struct Answer {
    nlohmann::json value;
    std::optional<std::string> denial;
  };
  // Calls a global function with the arguments under the budget. Throws
  // PolicyFailure; after a failure that stopped the call from outside (the
  // wall clock), the sandbox is dead and every later use throws.
  Answer call(const std::string& function, Args args);
  // Names of the global functions whose name starts with `prefix`, sorted.
  std::vector<std::string> functions_with_prefix(const std::string& prefix);
  // Notes recorded by the policy with note(topic, text) during the last call;
  // taking them leaves none.
  std::vector<std::pair<std::string, std::string>> take_notes() { return std::move(notes_); }

  struct CallWatch;
  struct Block;
  // Internal state shared with the C callbacks.
  struct State {
    Budget budget;
    std::uint64_t allocated = 0;
    std::uint64_t instructions = 0;
    std::chrono::steady_clock::time_point deadline;
    bool armed = false;     // a call is running: enforce the budget
    std::string exhausted;  // sticky: why the budget ran out during this call
    std::vector<std::pair<std::string, std::string>>* notes = nullptr;
    CallWatch* watch = nullptr;  // the calling thread's watch, while armed
    Block* blocks = nullptr;     // every live allocation, to free a dead state
    const PolicyModules* modules = nullptr;
    bool loading = true;  // require() may load modules until freeze()
  };

 private:
  // Runs the function below `nargs` arguments on the stack under the budget
  // (pcall with `handler`); returns lua_pcall's code. A call stopped by the
  // watchdog kills the sandbox and throws PolicyFailure naming `what`.
  int run_budgeted(int nargs, int nresults, int handler, const std::string& what);
  void check_alive() const;
  std::string changed_upvalue();

  lua_State* L_ = nullptr;
  bool dead_ = false;
  State state_;
  std::vector<std::pair<std::string, std::string>> notes_;
  int upvalue_snapshot_ref_ = LUA_NOREF;
  std::map<std::string, std::string> defined_at_;  // global function -> "file:line"
};

}  // namespace warden::policy
