#include "json_value.h"

#include <warden/error.h>

namespace warden::python {
namespace py = pybind11;

namespace {

constexpr int kMaxDepth = 64;

py::str decode_utf8(const std::string& text) {
  PyObject* s = PyUnicode_DecodeUTF8(text.data(), static_cast<Py_ssize_t>(text.size()), "replace");
  if (s == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::str>(s);
}

[[noreturn]] void no_json_form(py::handle value, const std::string& where, const std::string& why) {
  throw Error(ErrorKind::kInvalidInput,
              where + ": a " + std::string(py::str(py::type::handle_of(value).attr("__name__"))) +
                  " " + why);
}

nlohmann::json convert(py::handle value, const std::string& where, int depth) {
  if (depth > kMaxDepth)
    throw Error(ErrorKind::kInvalidInput,
                where + ": nested more than " + std::to_string(kMaxDepth) + " levels deep");
  if (value.is_none()) return nullptr;
  if (py::isinstance<py::bool_>(value)) return value.cast<bool>();
  if (py::isinstance<py::int_>(value)) {
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(value.ptr(), &overflow);
    if (overflow == 0) return v;
    unsigned long long u = PyLong_AsUnsignedLongLong(value.ptr());
    if (!PyErr_Occurred()) return u;
    PyErr_Clear();
    no_json_form(value, where, "this large has no JSON form (at most 64 bits)");
  }
  if (py::isinstance<py::float_>(value)) return value.cast<double>();
  if (py::isinstance<py::str>(value)) return value.cast<std::string>();
  if (py::isinstance<py::dict>(value)) {
    nlohmann::json out = nlohmann::json::object();
    for (auto [key, item] : py::reinterpret_borrow<py::dict>(value)) {
      if (!py::isinstance<py::str>(key))
        no_json_form(key, where, "as a key has no JSON form (keys must be str)");
      std::string name = key.cast<std::string>();
      out[name] = convert(item, where + "['" + name + "']", depth + 1);
    }
    return out;
  }
  if (py::isinstance<py::list>(value) || py::isinstance<py::tuple>(value)) {
    nlohmann::json out = nlohmann::json::array();
    std::size_t i = 0;
    for (py::handle item : value)
      out.push_back(convert(item, where + "[" + std::to_string(i++) + "]", depth + 1));
    return out;
  }
  no_json_form(value, where,
               "has no JSON form (use dict, list, tuple, str, int, float, bool or None)");
}

}  // namespace

py::object to_python(const nlohmann::json& value) {
  switch (value.type()) {
    case nlohmann::json::value_t::null:
    case nlohmann::json::value_t::discarded: return py::none();
    case nlohmann::json::value_t::boolean: return py::bool_(value.get<bool>());
    case nlohmann::json::value_t::number_integer: return py::int_(value.get<std::int64_t>());
    case nlohmann::json::value_t::number_unsigned: return py::int_(value.get<std::uint64_t>());
    case nlohmann::json::value_t::number_float: return py::float_(value.get<double>());
    case nlohmann::json::value_t::string: return decode_utf8(value.get_ref<const std::string&>());
    case nlohmann::json::value_t::binary: {
      const auto& bytes = value.get_binary();
      return py::bytes(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    }
    case nlohmann::json::value_t::array: {
      py::list out(value.size());
      std::size_t i = 0;
      for (const auto& item : value) out[i++] = to_python(item);
      return out;
    }
    case nlohmann::json::value_t::object: {
      py::dict out;
      for (const auto& [key, item] : value.items()) out[decode_utf8(key)] = to_python(item);
      return out;
    }
  }
  return py::none();
}

nlohmann::json from_python(py::handle value, const std::string& where) {
  return convert(value, where, 0);
}

}  // namespace warden::python
