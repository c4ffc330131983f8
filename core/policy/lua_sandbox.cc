#include "policy/lua_sandbox.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <condition_variable>
#include <csetjmp>
#include <csignal>
#include <cstring>
#include <ctime>
#include <mutex>
#include <string_view>
#include <thread>

namespace warden::policy {

// The calling thread's side of the watchdog: what the signal handler needs to
// stop the call running on this thread. Fields the handler reads are
// sig_atomic_t or lock-free atomics.
struct LuaSandbox::CallWatch {
  pthread_t thread{};
  std::atomic<std::int64_t> deadline_ns{0};  // CLOCK_MONOTONIC; 0: no call running
  volatile std::sig_atomic_t active = 0;     // inside the call: the handler may act
  volatile std::sig_atomic_t stop_requested = 0;
  volatile std::sig_atomic_t critical = 0;  // in code that must not be jumped out of
  lua_State* volatile L = nullptr;
  sigjmp_buf escape;
};

// Every allocation of a state carries one, so that a state abandoned in the
// middle of a call can be freed without running any of its code.
struct LuaSandbox::Block {
  Block* prev;
  Block* next;
  std::size_t size;
  std::size_t padding;  // keeps the payload 16-byte aligned
};

namespace {

using CallWatch = LuaSandbox::CallWatch;
using Block = LuaSandbox::Block;

constexpr int kHookEvery = 1000;
constexpr double kMaxPatternWork = 5e7;
constexpr int kMaxDepth = 64;
// How often the watchdog looks at the running calls: a call stuck in C ends at
// most two ticks after its deadline.
constexpr auto kWatchdogTick = std::chrono::milliseconds(5);
// The watchdog thread sleeps when no call has run for this long.
constexpr auto kWatchdogIdle = std::chrono::seconds(1);

// Registry keys (their addresses).
const char kDenialMeta = 0;
const char kModules = 0;
const char kLoadingModules = 0;

std::int64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

std::int64_t to_ns(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

// Marks code the watchdog's signal must not jump out of (it holds a lock of
// the C library's allocator or half-links a block); the signal then only asks
// the call to stop, and the next tick tries again.
class Critical {
 public:
  explicit Critical(CallWatch* watch) : watch_(watch) {
    if (watch_ != nullptr) watch_->critical = watch_->critical + 1;
    std::atomic_signal_fence(std::memory_order_seq_cst);
  }
  ~Critical() {
    std::atomic_signal_fence(std::memory_order_seq_cst);
    if (watch_ != nullptr) watch_->critical = watch_->critical - 1;
  }
  Critical(const Critical&) = delete;
  Critical& operator=(const Critical&) = delete;

 private:
  CallWatch* watch_;
};

LuaSandbox::State& state_of(lua_State* L) {
  void* ud = nullptr;
  lua_getallocf(L, &ud);
  return *static_cast<LuaSandbox::State*>(ud);
}

std::string wall_clock_exceeded(const Budget& budget) {
  return "exceeded the wall-clock budget of " + std::to_string(budget.wall_time_ms) + " ms";
}

void* allocate(void* ud, void* ptr, size_t osize, size_t nsize) {
  auto& s = *static_cast<LuaSandbox::State*>(ud);
  Critical critical(s.watch);
  std::uint64_t old_size = ptr ? osize : 0;
  Block* block = ptr ? static_cast<Block*>(ptr) - 1 : nullptr;
  auto unlink = [&](Block* b) {
    if (b->prev) b->prev->next = b->next;
    if (b->next) b->next->prev = b->prev;
    if (s.blocks == b) s.blocks = b->next;
  };
  auto link = [&](Block* b) {
    b->prev = nullptr;
    b->next = s.blocks;
    if (s.blocks) s.blocks->prev = b;
    s.blocks = b;
  };
  if (nsize == 0) {
    if (block != nullptr) {
      unlink(block);
      std::free(block);
    }
    s.allocated -= old_size;
    return nullptr;
  }
  if (nsize > old_size) {  // Lua requires that shrinking never fails
    if (s.armed && s.watch != nullptr && s.watch->stop_requested) {
      if (s.exhausted.empty()) s.exhausted = wall_clock_exceeded(s.budget);
      return nullptr;
    }
    if (s.allocated - old_size + nsize > s.budget.memory_bytes) {
      if (s.armed && s.exhausted.empty())
        s.exhausted =
            "exceeded the memory budget of " + std::to_string(s.budget.memory_bytes) + " bytes";
      return nullptr;
    }
  }
  if (block != nullptr) unlink(block);
  auto* moved = static_cast<Block*>(std::realloc(block, sizeof(Block) + nsize));
  if (moved == nullptr) {
    if (block != nullptr) link(block);
    return nullptr;
  }
  moved->size = nsize;
  link(moved);
  s.allocated = s.allocated - old_size + nsize;
  return moved + 1;
}

// Raises `why` as a Lua error located at stack `level`: 0 from a hook (the
// running Lua function), 1 from a C function (its Lua caller).
[[noreturn]] void raise_exhausted(lua_State* L, const std::string& why, int level = 1) {
  luaL_where(L, level);
  lua_pushstring(L, why.c_str());
  lua_concat(L, 2);
  lua_error(L);
  std::abort();  // lua_error does not return
}

bool stop_requested(const LuaSandbox::State& s) {
  return s.watch != nullptr && s.watch->stop_requested;
}

void count_hook(lua_State* L, lua_Debug*) {
  auto& s = state_of(L);
  if (!s.armed) return;
  {
    Critical critical(s.watch);
    s.instructions += kHookEvery;
    if (s.exhausted.empty()) {
      if (s.instructions > s.budget.instructions)
        s.exhausted = "exceeded the instruction budget of " + std::to_string(s.budget.instructions);
      else if (stop_requested(s) || std::chrono::steady_clock::now() > s.deadline)
        s.exhausted = wall_clock_exceeded(s.budget);
    }
  }
  if (!s.exhausted.empty()) {
    // From now on every instruction ends up here, so no handler can keep running.
    lua_sethook(L, count_hook, LUA_MASKCOUNT, 1);
    raise_exhausted(L, s.exhausted, 0);
  }
}

// pcall and xpcall that cannot swallow an exhausted budget, and that refuse to
// start once the watchdog asked the call to stop (a C loop that keeps calling
// pcall would otherwise go on throwing and catching).
int guarded_protected_call(lua_State* L) {
  auto& s = state_of(L);
  if (stop_requested(s) && s.exhausted.empty()) {
    Critical critical(s.watch);
    s.exhausted = wall_clock_exceeded(s.budget);
  }
  if (!s.exhausted.empty()) raise_exhausted(L, s.exhausted);
  int n = lua_gettop(L);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, n, LUA_MULTRET);
  if (!s.exhausted.empty()) raise_exhausted(L, s.exhausted);
  return lua_gettop(L);
}

// Counts the backtracking points of a Lua pattern: each quantified item can
// multiply the matcher's work by the subject length.
int quantifiers_in(const char* p, std::size_t len) {
  int q = 0;
  bool in_set = false;
  for (std::size_t i = 0; i < len; ++i) {
    char c = p[i];
    if (c == '%') {
      ++i;
      continue;
    }
    if (in_set) {
      if (c == ']') in_set = false;
      continue;
    }
    if (c == '[') {
      in_set = true;
      if (i + 1 < len && p[i + 1] == '^') ++i;
      if (i + 1 < len && p[i + 1] == ']') ++i;
      continue;
    }
    if (c == '*' || c == '+' || c == '-' || c == '?') ++q;
  }
  return q;
}

// Wraps string.find/match/gmatch/gsub: refuses at once, with a clear message,
// calls whose worst case is plainly too much work. (What this estimate misses
// the watchdog still ends.)
int bounded_pattern_call(lua_State* L) {
  std::size_t subject_len = 0, pattern_len = 0;
  luaL_checklstring(L, 1, &subject_len);
  const char* pattern = luaL_checklstring(L, 2, &pattern_len);
  bool plain =
      lua_isboolean(L, 4) && lua_toboolean(L, 4) && lua_tointeger(L, lua_upvalueindex(2)) == 1;
  if (!plain) {
    int q = quantifiers_in(pattern, pattern_len);
    double n = static_cast<double>(subject_len) + 1;
    double work = std::pow(n, q) * n * (static_cast<double>(pattern_len) + 1);
    if (work > kMaxPatternWork) {
      auto& s = state_of(L);
      {
        Critical critical(s.watch);
        if (s.armed && s.exhausted.empty())
          s.exhausted = "pattern too costly: " + std::to_string(q) +
                        " quantifiers over a subject of " + std::to_string(subject_len) +
                        " bytes (simplify the pattern or shorten the text)";
      }
      if (s.exhausted.empty()) luaL_error(L, "pattern too costly");
      raise_exhausted(L, s.exhausted);
    }
  }
  int n = lua_gettop(L);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, n, LUA_MULTRET);
  return lua_gettop(L);
}

// string.rep that checks the size of its result against the memory budget
// before the C code allocates and fills it, and answers repetitions of the
// empty string itself (the C code would loop once per repetition).
int bounded_rep(lua_State* L) {
  std::size_t len = 0, sep_len = 0;
  luaL_checklstring(L, 1, &len);
  lua_Integer n = luaL_checkinteger(L, 2);
  luaL_optlstring(L, 3, "", &sep_len);
  auto& s = state_of(L);
  if (n > 0 && len + sep_len == 0) {
    lua_pushliteral(L, "");
    return 1;
  }
  if (n > 0) {
    double need = static_cast<double>(len) * static_cast<double>(n) +
                  static_cast<double>(sep_len) * static_cast<double>(n - 1);
    double room = static_cast<double>(s.budget.memory_bytes) - static_cast<double>(s.allocated);
    if (need > room) {
      {
        Critical critical(s.watch);
        if (s.exhausted.empty())
          s.exhausted = "exceeded the memory budget of " + std::to_string(s.budget.memory_bytes) +
                        " bytes (string.rep of " +
                        std::to_string(static_cast<std::uint64_t>(need)) + " bytes)";
      }
      raise_exhausted(L, s.exhausted);
    }
  }
  int top = lua_gettop(L);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, top, 1);
  return 1;
}

// setmetatable without finalizers: a __gc would run whenever the collector
// gets to it, outside the call's budget, and could carry values from one
// request into the next.
int guarded_setmetatable(lua_State* L) {
  if (lua_type(L, 2) == LUA_TTABLE) {
    lua_pushliteral(L, "__gc");
    bool finalizer = lua_rawget(L, 2) != LUA_TNIL;
    lua_pop(L, 1);
    if (finalizer)
      luaL_error(L,
                 "setmetatable: finalizers (__gc) are not allowed in policies: they would run "
                 "outside the policy's budget and keep state between calls");
  }
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, 1);
  return 1;
}

int record_note(lua_State* L) {
  const char* topic = luaL_checkstring(L, 1);
  const char* text = luaL_checkstring(L, 2);
  auto& s = state_of(L);
  Critical critical(s.watch);
  if (s.notes != nullptr && s.notes->size() < 256) s.notes->emplace_back(topic, text);
  return 0;
}

// A denial is a table with the reason, marked by a metatable policies cannot
// reach (so no other value passes for one).
bool is_denial(lua_State* L, int index) {
  if (lua_type(L, index) != LUA_TTABLE || !lua_getmetatable(L, index)) return false;
  lua_rawgetp(L, LUA_REGISTRYINDEX, &kDenialMeta);
  bool denial = lua_rawequal(L, -1, -2);
  lua_pop(L, 2);
  return denial;
}

// warden.deny(reason): the value to return, or raise with error(), to deny.
int policy_deny(lua_State* L) {
  std::size_t len = 0;
  const char* reason = lua_type(L, 1) == LUA_TSTRING ? lua_tolstring(L, 1, &len) : nullptr;
  if (reason == nullptr || len == 0)
    luaL_error(L, "warden.deny: the reason must be a non-empty string");
  lua_createtable(L, 0, 1);
  lua_pushvalue(L, 1);
  lua_setfield(L, -2, "reason");
  lua_rawgetp(L, LUA_REGISTRYINDEX, &kDenialMeta);
  lua_setmetatable(L, -2);
  return 1;
}

// warden.denial(value): the reason when `value` is a denial, else nil.
int policy_denial(lua_State* L) {
  if (!is_denial(L, 1)) return 0;
  lua_getfield(L, 1, "reason");
  return 1;
}

int denial_tostring(lua_State* L) {
  lua_getfield(L, 1, "reason");
  lua_pushfstring(L, "denied by the policy: %s", luaL_tolstring(L, -1, nullptr));
  return 1;
}

bool valid_module_name(const char* name, std::size_t len) {
  if (len == 0 || len > 200) return false;
  bool segment_start = true;
  for (std::size_t i = 0; i < len; ++i) {
    char c = name[i];
    if (c == '.') {
      if (segment_start) return false;
      segment_start = true;
      continue;
    }
    bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    bool digit = c >= '0' && c <= '9';
    if (!letter && !(digit && !segment_start)) return false;
    segment_start = false;
  }
  return !segment_start;
}

// require(name): a module of the policy folder, "lib.scores" for
// lib/scores.lua. Loads it once, in this state and environment, while the
// policy loads; afterwards only returns what was loaded.
int policy_require(lua_State* L) {
  std::size_t len = 0;
  const char* name = luaL_checklstring(L, 1, &len);
  bool from_host = lua_toboolean(L, lua_upvalueindex(1));  // a policy file, named by its file
  if (!from_host && !valid_module_name(name, len))
    luaL_error(L,
               "require: '%s' is not a module of this policy folder (a name like 'lib.scores' for "
               "lib/scores.lua: letters, digits, _ and dots)",
               name);
  lua_settop(L, 1);
  lua_rawgetp(L, LUA_REGISTRYINDEX, &kModules);         // 2: frozen once the policy loaded
  lua_rawgetp(L, LUA_REGISTRYINDEX, &kLoadingModules);  // 3: { name... } being loaded
  lua_pushvalue(L, 1);
  if (lua_gettable(L, 2) != LUA_TNIL) return 1;  // loaded before (it is the module's value)
  lua_pop(L, 1);
  lua_Integer depth = static_cast<lua_Integer>(lua_rawlen(L, 3));
  for (lua_Integer i = 1; i <= depth; ++i) {
    lua_rawgeti(L, 3, i);
    bool same = lua_rawequal(L, -1, 1);
    lua_pop(L, 1);
    if (same) {
      luaL_Buffer chain;
      luaL_buffinit(L, &chain);
      for (lua_Integer j = i; j <= depth; ++j) {
        lua_rawgeti(L, 3, j);
        luaL_addvalue(&chain);
        luaL_addstring(&chain, " -> ");
      }
      lua_pushvalue(L, 1);
      luaL_addvalue(&chain);
      luaL_pushresult(&chain);
      luaL_error(L, "require: cycle between modules: %s", lua_tostring(L, -1));
    }
  }
  auto& s = state_of(L);
  if (!s.loading)
    luaL_error(L,
               "require('%s'): modules load with the policy; call require at the top of a file, "
               "not inside a policy function",
               name);
  const PolicyModule* module = nullptr;
  if (s.modules != nullptr) {
    auto it = s.modules->find(std::string_view(name, len));
    if (it != s.modules->end()) module = &it->second;
  }
  if (module == nullptr) luaL_error(L, "require: no module '%s' in the policy folder", name);
  {
    Critical critical(s.watch);
    lua_pushstring(L, ("@" + module->path).c_str());  // 4
  }
  if (!module->text.empty() && module->text[0] == LUA_SIGNATURE[0])
    luaL_error(L, "%s: binary chunks are not accepted; policies are Lua source",
               module->path.c_str());
  if (luaL_loadbufferx(L, module->text.data(), module->text.size(), lua_tostring(L, 4), "t") !=
      LUA_OK)
    lua_error(L);  // the syntax error, with file and line
  lua_pushvalue(L, 1);
  lua_rawseti(L, 3, depth + 1);
  lua_pushvalue(L, 1);
  lua_call(L, 1, 1);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    lua_pushboolean(L, 1);
  }
  lua_pushnil(L);
  lua_rawseti(L, 3, depth + 1);
  lua_pushvalue(L, 1);
  lua_pushvalue(L, -2);
  lua_rawset(L, 2);
  return 1;
}

int message_handler(lua_State* L) {
  if (is_denial(L, 1)) return 1;  // a denial raised with error() stays a denial
  const char* msg = lua_tostring(L, 1);
  if (msg == nullptr) msg = luaL_tolstring(L, 1, nullptr);
  lua_pushstring(L, msg);
  return 1;
}

// For the freeze: the upvalue `i` of a Lua function (name, value), nothing for
// a C function or past the last one.
int freeze_upvalue(lua_State* L) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  if (lua_iscfunction(L, 1)) return 0;
  const char* name = lua_getupvalue(L, 1, static_cast<int>(luaL_checkinteger(L, 2)));
  if (name == nullptr) return 0;
  lua_pushstring(L, name);
  lua_insert(L, -2);
  return 2;
}

// For the freeze: a table's metatable, protected or not.
int freeze_metatable(lua_State* L) {
  if (!lua_getmetatable(L, 1)) return 0;
  return 1;
}

// For the freeze: sets a metatable even over a protected one.
int freeze_set_metatable(lua_State* L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 2);
  lua_setmetatable(L, 1);
  return 0;
}

void push_json(lua_State* L, const nlohmann::json& j, int depth) {
  if (depth > kMaxDepth) luaL_error(L, "input nested too deeply");
  luaL_checkstack(L, 4, "input too large");
  switch (j.type()) {
    case nlohmann::json::value_t::null: lua_pushnil(L); break;
    case nlohmann::json::value_t::boolean: lua_pushboolean(L, j.get<bool>()); break;
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned: lua_pushinteger(L, j.get<lua_Integer>()); break;
    case nlohmann::json::value_t::number_float: lua_pushnumber(L, j.get<double>()); break;
    case nlohmann::json::value_t::string: {
      const auto& s = j.get_ref<const std::string&>();
      lua_pushlstring(L, s.data(), s.size());
      break;
    }
    case nlohmann::json::value_t::array: {
      lua_createtable(L, static_cast<int>(j.size()), 0);
      lua_Integer i = 1;
      for (const auto& item : j) {
        push_json(L, item, depth + 1);
        lua_rawseti(L, -2, i++);
      }  // raw sets: a fresh table has no metamethods to consult
      break;
    }
    case nlohmann::json::value_t::object: {
      lua_createtable(L, 0, static_cast<int>(j.size()));
      for (auto it = j.begin(); it != j.end(); ++it) {
        const std::string& key = it.key();
        lua_pushlstring(L, key.data(), key.size());
        push_json(L, it.value(), depth + 1);
        lua_rawset(L, -3);
      }
      break;
    }
    default: lua_pushnil(L);
  }
}

// Reads a result without running any of the policy's code: raw accesses only
// (the call is over and no budget is armed).
nlohmann::json to_json(lua_State* L, int index, int depth) {
  if (depth > kMaxDepth) throw PolicyFailure("result nested too deeply (cycle?)");
  index = lua_absindex(L, index);
  switch (lua_type(L, index)) {
    case LUA_TNIL: return nullptr;
    case LUA_TBOOLEAN: return static_cast<bool>(lua_toboolean(L, index));
    case LUA_TNUMBER:
      if (lua_isinteger(L, index)) return static_cast<std::int64_t>(lua_tointeger(L, index));
      return lua_tonumber(L, index);
    case LUA_TSTRING: {
      std::size_t len = 0;
      const char* s = lua_tolstring(L, index, &len);
      return std::string(s, len);
    }
    case LUA_TTABLE: {
      // A frozen table keeps its contents in the table behind __index.
      int source = index;
      int pushed = 0;
      lua_pushnil(L);
      bool raw_empty = lua_next(L, index) == 0;
      if (!raw_empty) lua_pop(L, 2);
      if (raw_empty && lua_getmetatable(L, index)) {
        pushed = 1;
        lua_pushliteral(L, "__index");
        if (lua_rawget(L, -2) == LUA_TTABLE) {
          source = lua_absindex(L, -1);
          pushed = 2;
        } else {
          lua_pop(L, 1);
        }
      }
      lua_Integer n = static_cast<lua_Integer>(lua_rawlen(L, source));
      nlohmann::json out;
      bool array = true;
      lua_pushnil(L);
      while (lua_next(L, source) != 0) {
        if (!lua_isinteger(L, -2) || lua_tointeger(L, -2) < 1 || lua_tointeger(L, -2) > n)
          array = false;
        lua_pop(L, 1);
      }
      if (array) {
        out = nlohmann::json::array();
        for (lua_Integer i = 1; i <= n; ++i) {
          lua_rawgeti(L, source, i);
          out.push_back(to_json(L, -1, depth + 1));
          lua_pop(L, 1);
        }
      } else {
        out = nlohmann::json::object();
        lua_pushnil(L);
        while (lua_next(L, source) != 0) {
          std::string key;
          if (lua_type(L, -2) == LUA_TSTRING)
            key = lua_tostring(L, -2);
          else if (lua_isinteger(L, -2))
            key = std::to_string(lua_tointeger(L, -2));
          else
            throw PolicyFailure("result table has a key that is neither a string nor an integer");
          out[key] = to_json(L, -1, depth + 1);
          lua_pop(L, 1);
        }
      }
      lua_pop(L, pushed);
      return out;
    }
    default:
      throw PolicyFailure(std::string("result holds a ") + luaL_typename(L, index) +
                          ", which is not data (use strings, numbers, booleans and tables)");
  }
}

// Makes everything a policy can reach read-only once it has loaded. Given the
// C helpers (upvalue, metatable, set_metatable), returns a function of the
// roots and the string metatable that freezes tables in place (their contents
// move behind __index) and returns the upvalues of every Lua function found,
// as { {function, index, value}... }, for the check after each call.
constexpr const char* kFreezeSource = R"lua(
local upvalue, metatable, set_metatable = ...
local next, rawset, setmetatable, type, error, tostring, pairs, ipairs =
      next, rawset, setmetatable, type, error, tostring, pairs, ipairs
-- Metamethods the frozen table's own metatable provides.
local OWN = { __index = true, __newindex = true, __len = true, __pairs = true, __metatable = true,
              __gc = true, __mode = true }
return function(roots, string_metatable)
  local seen, snapshot = {}, {}
  local walk
  local function freeze(t)
    local shadow = {}
    for k, v in next, t do shadow[k] = v end
    for k in next, shadow do rawset(t, k, nil) end
    local frozen = {
      __index = shadow,
      __newindex = function(_, k)
        error("policies must not keep state between calls: cannot assign '" .. tostring(k) ..
              "' in a table made while the policy loaded (use a local table)", 2)
      end,
      __len = function() return #shadow end,
      __pairs = function(self) return function(_, k) return next(shadow, k) end, self, nil end,
      __metatable = false,
    }
    local old = metatable(t)
    if old ~= nil then
      for k, v in pairs(old) do
        if not OWN[k] then frozen[k] = v end
      end
      local index = old.__index
      if index ~= nil then setmetatable(shadow, { __index = index }) end
    end
    set_metatable(t, frozen)
    for k, v in next, shadow do walk(k); walk(v) end
    walk(old)
  end
  function walk(v)
    local kind = type(v)
    if (kind ~= "table" and kind ~= "function") or seen[v] then return end
    seen[v] = true
    if kind == "function" then
      local i = 1
      while true do
        local name, value = upvalue(v, i)
        if name == nil then break end
        snapshot[#snapshot + 1] = { v, i, value }
        walk(value)
        i = i + 1
      end
    elseif v == string_metatable then
      -- Strings look their methods up in it raw: it stays as it is, out of reach.
      for k, x in next, v do walk(k); walk(x) end
    else
      freeze(v)
    end
  end
  for _, root in ipairs(roots) do walk(root) end
  return snapshot
end
)lua";

// The watchdog thread, shared by every sandbox of the process. It is never
// destroyed: threads that run policies may outlive static destruction.
class Watchdog {
 public:
  static Watchdog& instance() {
    static Watchdog* watchdog = new Watchdog();
    return *watchdog;
  }

  void add(CallWatch* watch) {
    std::lock_guard lock(mutex_);
    watches_.push_back(watch);
  }
  void remove(CallWatch* watch) {
    std::lock_guard lock(mutex_);
    watches_.erase(std::remove(watches_.begin(), watches_.end(), watch), watches_.end());
  }
  void call_started() {
    running_.fetch_add(1);
    if (parked_.load()) {
      std::lock_guard lock(mutex_);
      parked_ = false;
      wake_.notify_one();
    }
  }
  void call_ended() {
    last_call_ns_.store(monotonic_ns(), std::memory_order_relaxed);
    running_.fetch_sub(1);
  }

 private:
  Watchdog() {
    struct sigaction action {};
    action.sa_sigaction = on_signal;
    action.sa_flags = SA_SIGINFO | SA_NODEFER | SA_RESTART;
    sigemptyset(&action.sa_mask);
    sigaction(watchdog_signal(), &action, nullptr);
    std::thread([this] { run(); }).detach();
  }

  void run() {
    // The watchdog thread itself never runs a policy: it keeps its signal blocked.
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, watchdog_signal());
    pthread_sigmask(SIG_BLOCK, &mask, nullptr);
    const auto idle_ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(kWatchdogIdle).count();
    for (;;) {
      {
        std::unique_lock lock(mutex_);
        parked_ = true;
        if (running_.load() == 0 && monotonic_ns() - last_call_ns_.load() > idle_ns)
          wake_.wait(lock, [this] { return !parked_.load(); });
        parked_ = false;
      }
      std::this_thread::sleep_for(kWatchdogTick);
      std::lock_guard lock(mutex_);
      std::int64_t now = monotonic_ns();
      for (CallWatch* watch : watches_) {
        std::int64_t deadline = watch->deadline_ns.load();
        if (deadline != 0 && now > deadline) {
          union sigval value {};
          value.sival_ptr = watch;
          pthread_sigqueue(watch->thread, watchdog_signal(), value);
        }
      }
    }
  }

  // First signal past the deadline: ask the call to stop (the next Lua
  // instruction raises the budget error, with its line). A later one, the
  // call still running: jump out of it, unless it is in code marked Critical.
  static void on_signal(int, siginfo_t* info, void*) {
    int saved_errno = errno;
    if (info->si_code != SI_QUEUE || info->si_pid != getpid()) return;
    auto* watch = static_cast<CallWatch*>(info->si_value.sival_ptr);
    if (watch == nullptr || !watch->active || monotonic_ns() < watch->deadline_ns.load()) {
      errno = saved_errno;
      return;  // no call, or a later call than the one the watchdog saw
    }
    if (!watch->stop_requested) {
      watch->stop_requested = 1;
      lua_sethook(watch->L, count_hook, LUA_MASKCOUNT, 1);  // allowed in a signal handler
      errno = saved_errno;
      return;
    }
    if (watch->critical) {
      errno = saved_errno;
      return;
    }
    watch->active = 0;
    siglongjmp(watch->escape, 1);
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<CallWatch*> watches_;
  std::atomic<bool> parked_{false};
  std::atomic<int> running_{0};
  std::atomic<std::int64_t> last_call_ns_{0};
};

// The calling thread's watch, registered with the watchdog on first use and
// unregistered when the thread ends.
struct ThreadWatch {
  CallWatch* watch = nullptr;
  ~ThreadWatch() {
    if (watch == nullptr) return;
    Watchdog::instance().remove(watch);
    delete watch;
  }
};
thread_local ThreadWatch this_thread;

CallWatch& this_thread_watch() {
  if (this_thread.watch == nullptr) {
    auto* watch = new CallWatch();
    watch->thread = pthread_self();
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, watchdog_signal());
    pthread_sigmask(SIG_UNBLOCK, &mask, nullptr);
    Watchdog::instance().add(watch);
    this_thread.watch = watch;
  }
  return *this_thread.watch;
}

}  // namespace

int watchdog_signal() {
  return SIGRTMAX - 3;
}

LuaSandbox::LuaSandbox(const Budget& budget) {
  state_.budget = budget;
  state_.notes = &notes_;
  L_ = lua_newstate(allocate, &state_);
  if (L_ == nullptr) throw PolicyFailure("cannot create a Lua state");
  static const luaL_Reg kLibraries[] = {{"_G", luaopen_base},
                                        {"table", luaopen_table},
                                        {"string", luaopen_string},
                                        {"math", luaopen_math},
                                        {"utf8", luaopen_utf8}};
  for (const auto& library : kLibraries) {
    luaL_requiref(L_, library.name, library.func, 1);
    lua_pop(L_, 1);
  }
  if (luaL_loadstring(L_, kFreezeSource) != LUA_OK)
    throw PolicyFailure(std::string("internal: ") + lua_tostring(L_, -1));
  lua_pushcfunction(L_, freeze_upvalue);
  lua_pushcfunction(L_, freeze_metatable);
  lua_pushcfunction(L_, freeze_set_metatable);
  if (lua_pcall(L_, 3, 1, 0) != LUA_OK)
    throw PolicyFailure(std::string("internal: ") + lua_tostring(L_, -1));
  lua_setfield(L_, LUA_REGISTRYINDEX, "warden.freeze");

  // Trim the base library to what a pure function needs.
  for (const char* name : {"dofile", "loadfile", "load", "require", "collectgarbage", "rawset",
                           "print", "warn", "_VERSION"}) {
    lua_pushnil(L_);
    lua_setglobal(L_, name);
  }
  for (const char* name : {"pcall", "xpcall"}) {
    lua_getglobal(L_, name);
    lua_pushcclosure(L_, guarded_protected_call, 1);
    lua_setglobal(L_, name);
  }
  lua_getglobal(L_, "setmetatable");
  lua_pushcclosure(L_, guarded_setmetatable, 1);
  lua_setglobal(L_, "setmetatable");
  lua_pushcfunction(L_, record_note);
  lua_setglobal(L_, "note");
  lua_pushcfunction(L_, policy_require);
  lua_setglobal(L_, "require");
  // The random generator's state would outlive the call.
  lua_getglobal(L_, "math");
  for (const char* name : {"random", "randomseed"}) {
    lua_pushnil(L_);
    lua_setfield(L_, -2, name);
  }
  lua_pop(L_, 1);

  lua_createtable(L_, 0, 2);  // the denial marker
  lua_pushboolean(L_, 0);
  lua_setfield(L_, -2, "__metatable");
  lua_pushcfunction(L_, denial_tostring);
  lua_setfield(L_, -2, "__tostring");
  lua_rawsetp(L_, LUA_REGISTRYINDEX, &kDenialMeta);
  lua_createtable(L_, 0, 2);
  lua_pushcfunction(L_, policy_deny);
  lua_setfield(L_, -2, "deny");
  lua_pushcfunction(L_, policy_denial);
  lua_setfield(L_, -2, "denial");
  lua_setglobal(L_, "warden");
  lua_newtable(L_);
  lua_rawsetp(L_, LUA_REGISTRYINDEX, &kModules);
  lua_newtable(L_);
  lua_rawsetp(L_, LUA_REGISTRYINDEX, &kLoadingModules);

  lua_getglobal(L_, "string");
  lua_pushnil(L_);
  lua_setfield(L_, -2, "dump");
  for (const char* name : {"find", "match", "gmatch", "gsub"}) {
    lua_getfield(L_, -1, name);
    lua_pushinteger(L_, std::strcmp(name, "find") == 0 ? 1 : 0);  // only find has a plain flag
    lua_pushcclosure(L_, bounded_pattern_call, 2);
    lua_setfield(L_, -2, name);
  }
  lua_getfield(L_, -1, "rep");
  lua_pushcclosure(L_, bounded_rep, 1);
  lua_setfield(L_, -2, "rep");
  lua_pop(L_, 1);
  // The strings' metatable is shared by every string: out of the policies' reach.
  lua_pushliteral(L_, "");
  lua_getmetatable(L_, -1);
  lua_pushboolean(L_, 0);
  lua_setfield(L_, -2, "__metatable");
  lua_pop(L_, 2);
  lua_sethook(L_, count_hook, LUA_MASKCOUNT, kHookEvery);
}

LuaSandbox::~LuaSandbox() {
  if (L_ == nullptr) return;
  if (!dead_) {
    lua_close(L_);
    return;
  }
  // A state stopped in the middle of a call may be inconsistent: free its
  // memory without running any of it.
  for (Block* b = state_.blocks; b != nullptr;) {
    Block* next = b->next;
    std::free(b);
    b = next;
  }
}

void LuaSandbox::check_alive() const {
  if (dead_)
    throw PolicyFailure("internal: this policy state was stopped by the watchdog and is closed");
}

int LuaSandbox::run_budgeted(int nargs, int nresults, int handler, const std::string& what) {
  CallWatch& watch = this_thread_watch();
  state_.instructions = 0;
  state_.exhausted.clear();
  state_.deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(state_.budget.wall_time_ms);
  watch.L = L_;
  watch.stop_requested = 0;
  watch.critical = 0;
  watch.deadline_ns.store(to_ns(state_.deadline));
  Watchdog::instance().call_started();
  if (sigsetjmp(watch.escape, 0) != 0) {
    // The watchdog jumped out of a call stuck in C code: the state is
    // abandoned in whatever shape it was.
    watch.deadline_ns.store(0);
    Watchdog::instance().call_ended();
    state_.armed = false;
    state_.watch = nullptr;
    dead_ = true;
    throw PolicyFailure(what + wall_clock_exceeded(state_.budget) +
                        " (stopped inside a library function)");
  }
  state_.watch = &watch;
  state_.armed = true;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  watch.active = 1;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  int rc = lua_pcall(L_, nargs, nresults, handler);
  watch.active = 0;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  watch.deadline_ns.store(0);
  Watchdog::instance().call_ended();
  state_.armed = false;
  state_.watch = nullptr;
  lua_sethook(L_, count_hook, LUA_MASKCOUNT, kHookEvery);
  return rc;
}

void LuaSandbox::load(const std::string& source, const std::string& chunk_name) {
  check_alive();
  if (!source.empty() && source[0] == LUA_SIGNATURE[0])
    throw PolicyFailure(chunk_name + ": binary chunks are not accepted; policies are Lua source");
  lua_pushcfunction(L_, message_handler);
  int handler = lua_gettop(L_);
  if (luaL_loadbufferx(L_, source.data(), source.size(), ("@" + chunk_name).c_str(), "t") !=
      LUA_OK) {
    std::string msg = lua_tostring(L_, -1);
    lua_settop(L_, handler - 1);
    throw PolicyFailure(msg);
  }
  int rc = run_budgeted(0, 0, handler, chunk_name + ": ");
  if (rc != LUA_OK) {
    std::string msg = !state_.exhausted.empty()         ? chunk_name + ": " + state_.exhausted
                      : lua_tostring(L_, -1) != nullptr ? lua_tostring(L_, -1)
                                                        : chunk_name + ": error while loading";
    lua_settop(L_, handler - 1);
    throw PolicyFailure(msg);
  }
  lua_settop(L_, handler - 1);
}

void LuaSandbox::load_module(const std::string& name) {
  check_alive();
  std::string path = name;
  if (state_.modules != nullptr)
    if (auto it = state_.modules->find(name); it != state_.modules->end()) path = it->second.path;
  lua_pushcfunction(L_, message_handler);
  int handler = lua_gettop(L_);
  lua_pushboolean(L_, 1);
  lua_pushcclosure(L_, policy_require, 1);
  lua_pushlstring(L_, name.data(), name.size());
  int rc = run_budgeted(1, 0, handler, path + ": ");
  if (rc != LUA_OK) {
    std::string msg = !state_.exhausted.empty()         ? path + ": " + state_.exhausted
                      : lua_tostring(L_, -1) != nullptr ? lua_tostring(L_, -1)
                                                        : path + ": error while loading";
    lua_settop(L_, handler - 1);
    throw PolicyFailure(msg);
  }
  lua_settop(L_, handler - 1);
}

void LuaSandbox::freeze() {
  check_alive();
  lua_pushcfunction(L_, message_handler);
  int handler = lua_gettop(L_);
  lua_getfield(L_, LUA_REGISTRYINDEX, "warden.freeze");
  lua_createtable(L_, 2, 0);  // the roots
  lua_pushglobaltable(L_);
  lua_rawseti(L_, -2, 1);
  lua_rawgetp(L_, LUA_REGISTRYINDEX, &kModules);
  lua_rawseti(L_, -2, 2);
  lua_pushliteral(L_, "");
  lua_getmetatable(L_, -1);
  lua_remove(L_, -2);
  int rc = run_budgeted(2, 1, handler, "freezing the policy's tables: ");
  if (rc != LUA_OK) {
    std::string msg = !state_.exhausted.empty()         ? state_.exhausted
                      : lua_tostring(L_, -1) != nullptr ? lua_tostring(L_, -1)
                                                        : "error";
    lua_settop(L_, handler - 1);
    throw PolicyFailure("freezing the policy's tables: " + msg);
  }
  upvalue_snapshot_ref_ = luaL_ref(L_, LUA_REGISTRYINDEX);
  lua_settop(L_, handler - 1);
  state_.loading = false;

  // Where each global function is defined, for messages about a call that
  // had to be stopped from outside.
  lua_pushglobaltable(L_);
  lua_getmetatable(L_, -1);
  lua_pushliteral(L_, "__index");
  lua_rawget(L_, -2);  // the frozen globals' contents
  lua_pushnil(L_);
  while (lua_next(L_, -2) != 0) {
    if (lua_type(L_, -2) == LUA_TSTRING && lua_type(L_, -1) == LUA_TFUNCTION &&
        !lua_iscfunction(L_, -1)) {
      std::string name = lua_tostring(L_, -2);
      lua_Debug info{};
      lua_pushvalue(L_, -1);
      lua_getinfo(L_, ">S", &info);
      defined_at_[name] = std::string(info.short_src) + ":" + std::to_string(info.linedefined);
    }
    lua_pop(L_, 1);
  }
  lua_settop(L_, 0);
}

// The first captured variable (upvalue) a call changed, as "'name' (function
// defined at file:line)", restored for the next call; "" when none changed.
std::string LuaSandbox::changed_upvalue() {
  if (upvalue_snapshot_ref_ == LUA_NOREF) return "";
  lua_rawgeti(L_, LUA_REGISTRYINDEX, upvalue_snapshot_ref_);
  std::string changed;
  lua_Integer n = static_cast<lua_Integer>(lua_rawlen(L_, -1));
  for (lua_Integer i = 1; i <= n; ++i) {
    lua_rawgeti(L_, -1, i);
    lua_rawgeti(L_, -1, 1);  // fn
    lua_rawgeti(L_, -2, 2);  // index
    int index = static_cast<int>(lua_tointeger(L_, -1));
    lua_pop(L_, 1);
    const char* name = lua_getupvalue(L_, -1, index);  // current value
    lua_rawgeti(L_, -3, 3);                            // saved value
    if (!lua_rawequal(L_, -1, -2)) {
      if (changed.empty()) {
        lua_Debug info{};
        lua_pushvalue(L_, -3);
        lua_getinfo(L_, ">S", &info);
        changed = std::string("'") + (name ? name : "?") + "' (captured by the function at " +
                  info.short_src + ":" + std::to_string(info.linedefined) + ")";
      }
      lua_pushvalue(L_, -1);
      lua_setupvalue(L_, -4, index);  // restore it for the next call
    }
    lua_pop(L_, 4);
  }
  lua_pop(L_, 1);
  return changed;
}

bool LuaSandbox::has_function(const std::string& name) {
  check_alive();
  lua_getglobal(L_, name.c_str());
  bool is_function = lua_type(L_, -1) == LUA_TFUNCTION;
  lua_pop(L_, 1);
  return is_function;
}

std::vector<std::string> LuaSandbox::functions_with_prefix(const std::string& prefix) {
  check_alive();
  std::vector<std::string> names;
  lua_pushglobaltable(L_);
  int source = lua_gettop(L_);
  if (lua_getmetatable(L_, source)) {
    lua_pushliteral(L_, "__index");
    lua_rawget(L_, -2);
    source = lua_gettop(L_);
  }
  lua_pushnil(L_);
  while (lua_next(L_, source) != 0) {
    if (lua_type(L_, -2) == LUA_TSTRING && lua_type(L_, -1) == LUA_TFUNCTION) {
      std::string key = lua_tostring(L_, -2);
      if (key.rfind(prefix, 0) == 0) names.push_back(key);
    }
    lua_pop(L_, 1);
  }
  lua_settop(L_, 0);
  std::sort(names.begin(), names.end());
  return names;
}

int LuaSandbox::pin(const nlohmann::json& value) {
  check_alive();
  push_json(L_, value, 0);
  return luaL_ref(L_, LUA_REGISTRYINDEX);
}

void LuaSandbox::unpin(int ref) {
  if (!dead_) luaL_unref(L_, LUA_REGISTRYINDEX, ref);
}

LuaSandbox::Answer LuaSandbox::call(const std::string& function, Args args) {
  check_alive();
  notes_.clear();
  int base = lua_gettop(L_);
  lua_pushcfunction(L_, message_handler);
  int handler = lua_gettop(L_);
  if (lua_getglobal(L_, function.c_str()) != LUA_TFUNCTION) {
    lua_settop(L_, base);
    throw PolicyFailure("the policy does not define function '" + function + "'");
  }
  for (const Arg& a : args) {
    if (a.json_ != nullptr)
      push_json(L_, *a.json_, 0);
    else
      lua_rawgeti(L_, LUA_REGISTRYINDEX, a.ref_);
  }
  std::string where = "in function '" + function + "': ";
  auto defined = defined_at_.find(function);
  int rc = run_budgeted(static_cast<int>(args.size()), 1, handler,
                        where + (defined == defined_at_.end() ? "" : defined->second + ": "));
  bool answered = rc == LUA_OK && state_.exhausted.empty();
  bool denied_by_error = rc != LUA_OK && state_.exhausted.empty() && is_denial(L_, -1);
  if (answered || denied_by_error) {
    Answer answer;
    try {
      if (is_denial(L_, -1)) {
        lua_pushliteral(L_, "reason");
        if (lua_rawget(L_, -2) != LUA_TSTRING || lua_rawlen(L_, -1) == 0)
          throw PolicyFailure("the reason of a warden.deny() must stay a non-empty string");
        answer.denial = lua_tostring(L_, -1);
      } else {
        answer.value = to_json(L_, -1, 0);
      }
    } catch (const PolicyFailure& e) {
      lua_settop(L_, base);
      throw PolicyFailure(where + e.what());
    }
    lua_settop(L_, base);
    if (std::string name = changed_upvalue(); !name.empty())
      throw PolicyFailure(where + "changed the captured variable " + name +
                          "; policies must not keep state between calls");
    return answer;
  }
  std::string msg = rc == LUA_ERRMEM || lua_tostring(L_, -1) == nullptr
                        ? state_.exhausted
                        : std::string(lua_tostring(L_, -1));
  if (msg.empty()) msg = "not enough memory";
  // A budget stop raised from C code (an allocation, a pcall inside
  // table.sort) has no line of its own: name the function's.
  if (msg == state_.exhausted && defined != defined_at_.end()) msg = defined->second + ": " + msg;
  lua_settop(L_, base);
  lua_gc(L_, LUA_GCCOLLECT);
  throw PolicyFailure(where + msg);
}

}  // namespace warden::policy
