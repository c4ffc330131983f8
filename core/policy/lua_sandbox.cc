#include "policy/lua_sandbox.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace warden::policy {
namespace {

constexpr int kHookEvery = 1000;
constexpr double kMaxPatternWork = 5e7;
constexpr int kMaxDepth = 64;

LuaSandbox::State& state_of(lua_State* L) {
  void* ud = nullptr;
  lua_getallocf(L, &ud);
  return *static_cast<LuaSandbox::State*>(ud);
}

void* allocate(void* ud, void* ptr, size_t osize, size_t nsize) {
  auto& s = *static_cast<LuaSandbox::State*>(ud);
  std::uint64_t old_size = ptr ? osize : 0;
  if (nsize == 0) {
    std::free(ptr);
    s.allocated -= old_size;
    return nullptr;
  }
  if (nsize > old_size && s.allocated - old_size + nsize > s.budget.memory_bytes) {
    if (s.armed && s.exhausted.empty())
      s.exhausted = "memory budget of " + std::to_string(s.budget.memory_bytes) + " bytes exceeded";
    return nullptr;
  }
  void* p = std::realloc(ptr, nsize);
  if (p != nullptr) s.allocated = s.allocated - old_size + nsize;
  return p;
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

void count_hook(lua_State* L, lua_Debug*) {
  auto& s = state_of(L);
  if (!s.armed) return;
  s.instructions += kHookEvery;
  if (s.exhausted.empty()) {
    if (s.instructions > s.budget.instructions)
      s.exhausted = "instruction budget of " + std::to_string(s.budget.instructions) + " exceeded";
    else if (std::chrono::steady_clock::now() > s.deadline)
      s.exhausted =
          "wall-clock budget of " + std::to_string(s.budget.wall_time_ms) + " ms exceeded";
  }
  if (!s.exhausted.empty()) {
    // From now on every instruction ends up here, so no handler can keep running.
    lua_sethook(L, count_hook, LUA_MASKCOUNT, 1);
    raise_exhausted(L, s.exhausted, 0);
  }
}

// pcall and xpcall that cannot swallow an exhausted budget.
int guarded_protected_call(lua_State* L) {
  int n = lua_gettop(L);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, n, LUA_MULTRET);
  auto& s = state_of(L);
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

// Wraps string.find/match/gmatch/gsub: refuses calls whose worst case is too
// much work, since the matcher cannot be interrupted once started.
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
      if (s.armed && s.exhausted.empty())
        s.exhausted = "pattern too costly: " + std::to_string(q) +
                      " quantifiers over a subject of " + std::to_string(subject_len) +
                      " bytes (simplify the pattern or shorten the text)";
      raise_exhausted(L, s.exhausted.empty() ? "pattern too costly" : s.exhausted);
    }
  }
  int n = lua_gettop(L);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, n, LUA_MULTRET);
  return lua_gettop(L);
}

// string.rep that checks the size of its result against the memory budget
// before the C code allocates and fills it.
int bounded_rep(lua_State* L) {
  std::size_t len = 0, sep_len = 0;
  luaL_checklstring(L, 1, &len);
  lua_Integer n = luaL_checkinteger(L, 2);
  luaL_optlstring(L, 3, "", &sep_len);
  auto& s = state_of(L);
  if (n > 0) {
    double need = static_cast<double>(len) * static_cast<double>(n) +
                  static_cast<double>(sep_len) * static_cast<double>(n - 1);
    double room = static_cast<double>(s.budget.memory_bytes) - static_cast<double>(s.allocated);
    if (need > room) {
      if (s.exhausted.empty())
        s.exhausted = "memory budget of " + std::to_string(s.budget.memory_bytes) +
                      " bytes exceeded (string.rep of " +
                      std::to_string(static_cast<std::uint64_t>(need)) + " bytes)";
      raise_exhausted(L, s.exhausted);
    }
  }
  int top = lua_gettop(L);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, top, 1);
  return 1;
}

int record_note(lua_State* L) {
  const char* topic = luaL_checkstring(L, 1);
  const char* text = luaL_checkstring(L, 2);
  auto& s = state_of(L);
  if (s.notes != nullptr && s.notes->size() < 256) s.notes->emplace_back(topic, text);
  return 0;
}

int message_handler(lua_State* L) {
  const char* msg = lua_tostring(L, 1);
  if (msg == nullptr) msg = luaL_tolstring(L, 1, nullptr);
  lua_pushstring(L, msg);
  return 1;
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
        if (lua_getfield(L, -1, "__index") == LUA_TTABLE) {
          source = lua_absindex(L, -1);
          pushed = 2;
        } else {
          lua_pop(L, 1);
        }
      }
      lua_Integer n = static_cast<lua_Integer>(lua_rawlen(L, source));
      nlohmann::json out;
      bool array = true;
      std::size_t count = 0;
      lua_pushnil(L);
      while (lua_next(L, source) != 0) {
        ++count;
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
      (void)count;
      lua_pop(L, pushed);
      return out;
    }
    default:
      throw PolicyFailure(std::string("result holds a ") + luaL_typename(L, index) +
                          ", which is not data (use strings, numbers, booleans and tables)");
  }
}

// Runs once per state with the full library before it is trimmed: makes a
// table read-only in place (contents move behind __index), recursively.
constexpr const char* kFreezeSource = R"lua(
local next, rawset, setmetatable, type, error, tostring = next, rawset, setmetatable, type, error, tostring
local function freeze(t, seen)
  if seen[t] then return end
  seen[t] = true
  local shadow = {}
  for k, v in next, t do shadow[k] = v end
  for k in next, shadow do rawset(t, k, nil) end
  for _, v in next, shadow do
    if type(v) == "table" then freeze(v, seen) end
  end
  setmetatable(t, {
    __index = shadow,
    __newindex = function(_, k)
      error("policies must not keep state between calls: cannot assign '" .. tostring(k) ..
            "' outside a local table", 2)
    end,
    __len = function() return #shadow end,
    __pairs = function() return next, shadow, nil end,
    __metatable = false,
  })
end
return function(t) freeze(t, {}) end
)lua";

}  // namespace

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
  if (luaL_loadstring(L_, kFreezeSource) != LUA_OK || lua_pcall(L_, 0, 1, 0) != LUA_OK)
    throw PolicyFailure(std::string("internal: ") + lua_tostring(L_, -1));
  lua_setfield(L_, LUA_REGISTRYINDEX, "warden.freeze");

  // Trim the base library to what a pure function needs.
  for (const char* name :
       {"dofile", "loadfile", "load", "require", "collectgarbage", "rawset", "print", "_VERSION"}) {
    lua_pushnil(L_);
    lua_setglobal(L_, name);
  }
  for (const char* name : {"pcall", "xpcall"}) {
    lua_getglobal(L_, name);
    lua_pushcclosure(L_, guarded_protected_call, 1);
    lua_setglobal(L_, name);
  }
  lua_pushcfunction(L_, record_note);
  lua_setglobal(L_, "note");
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
  lua_sethook(L_, count_hook, LUA_MASKCOUNT, kHookEvery);
}

LuaSandbox::~LuaSandbox() {
  if (L_ != nullptr) lua_close(L_);
}

void LuaSandbox::load(const std::string& source, const std::string& chunk_name) {
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
  state_.armed = true;
  state_.instructions = 0;
  state_.exhausted.clear();
  state_.deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(state_.budget.wall_time_ms);
  int rc = lua_pcall(L_, 0, 0, handler);
  state_.armed = false;
  lua_sethook(L_, count_hook, LUA_MASKCOUNT, kHookEvery);
  if (rc != LUA_OK) {
    std::string msg =
        state_.exhausted.empty() ? lua_tostring(L_, -1) : chunk_name + ": " + state_.exhausted;
    lua_settop(L_, handler - 1);
    throw PolicyFailure(msg);
  }
  lua_settop(L_, handler - 1);
}

void LuaSandbox::freeze() {
  lua_getfield(L_, LUA_REGISTRYINDEX, "warden.freeze");
  lua_pushglobaltable(L_);
  if (lua_pcall(L_, 1, 0, 0) != LUA_OK) {
    std::string msg = lua_tostring(L_, -1);
    lua_pop(L_, 1);
    throw PolicyFailure("internal: freezing the policy failed: " + msg);
  }
  snapshot_upvalues();
}

// Remembers the value of every upvalue of every global function, to catch a
// call that changes one (state smuggled from one request to the next).
void LuaSandbox::snapshot_upvalues() {
  lua_newtable(L_);  // { {fn, index, value}, ... }
  int snapshot = lua_gettop(L_);
  lua_Integer slot = 1;
  lua_pushglobaltable(L_);
  lua_getmetatable(L_, -1);
  lua_getfield(L_, -1, "__index");  // the frozen globals' contents
  lua_pushnil(L_);
  while (lua_next(L_, -2) != 0) {
    if (lua_type(L_, -1) == LUA_TFUNCTION && !lua_iscfunction(L_, -1)) {
      for (int i = 1; lua_getupvalue(L_, -1, i) != nullptr; ++i) {
        // stack: ... fn value
        lua_createtable(L_, 3, 0);
        lua_pushvalue(L_, -3);
        lua_rawseti(L_, -2, 1);
        lua_pushinteger(L_, i);
        lua_rawseti(L_, -2, 2);
        lua_pushvalue(L_, -2);
        lua_rawseti(L_, -2, 3);
        lua_rawseti(L_, snapshot, slot++);
        lua_pop(L_, 1);
      }
    }
    lua_pop(L_, 1);
  }
  lua_pop(L_, 3);
  upvalue_snapshot_ref_ = luaL_ref(L_, LUA_REGISTRYINDEX);
}

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
    if (!lua_rawequal(L_, -1, -2) && changed.empty()) {
      changed = name ? name : "?";
      lua_pushvalue(L_, -1);
      lua_setupvalue(L_, -4, index);  // restore it for the next call
    }
    lua_pop(L_, 4);
  }
  lua_pop(L_, 1);
  return changed;
}

bool LuaSandbox::has_function(const std::string& name) {
  lua_getglobal(L_, name.c_str());
  bool is_function = lua_type(L_, -1) == LUA_TFUNCTION;
  lua_pop(L_, 1);
  return is_function;
}

std::vector<std::string> LuaSandbox::functions_with_prefix(const std::string& prefix) {
  std::vector<std::string> names;
  lua_pushglobaltable(L_);
  int source = lua_gettop(L_);
  if (lua_getmetatable(L_, source)) {
    lua_getfield(L_, -1, "__index");
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
  push_json(L_, value, 0);
  return luaL_ref(L_, LUA_REGISTRYINDEX);
}

void LuaSandbox::unpin(int ref) {
  luaL_unref(L_, LUA_REGISTRYINDEX, ref);
}

nlohmann::json LuaSandbox::call(const std::string& function, Args args) {
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
  state_.instructions = 0;
  state_.exhausted.clear();
  state_.deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(state_.budget.wall_time_ms);
  state_.armed = true;
  int rc = lua_pcall(L_, static_cast<int>(args.size()), 1, handler);
  state_.armed = false;
  lua_sethook(L_, count_hook, LUA_MASKCOUNT, kHookEvery);
  std::string where = "in function '" + function + "': ";
  if (rc != LUA_OK || !state_.exhausted.empty()) {
    std::string msg = rc == LUA_ERRMEM || lua_tostring(L_, -1) == nullptr
                          ? state_.exhausted
                          : std::string(lua_tostring(L_, -1));
    if (msg.empty()) msg = "not enough memory";
    lua_settop(L_, base);
    lua_gc(L_, LUA_GCCOLLECT);
    throw PolicyFailure(where + msg);
  }
  nlohmann::json result;
  try {
    result = to_json(L_, -1, 0);
  } catch (const PolicyFailure& e) {
    lua_settop(L_, base);
    throw PolicyFailure(where + e.what());
  }
  lua_settop(L_, base);
  if (std::string name = changed_upvalue(); !name.empty())
    throw PolicyFailure(where + "changed the captured variable '" + name +
                        "'; policies must not keep state between calls");
  return result;
}

}  // namespace warden::policy
