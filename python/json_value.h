// JSON values as plain Python objects and back: the Python module returns
// every result as dicts and lists with the keys of the C++ JSON, and takes
// `metadata` as a dict.
#pragma once

#include <pybind11/pybind11.h>

#include <nlohmann/json.hpp>
#include <string>

namespace warden::python {

// dict, list, str, int, float, bool or None. A string that is not valid UTF-8
// (a program's raw output) comes back with U+FFFD in place of the bad bytes
// rather than failing the whole result. REQUIRES: the GIL is held.
pybind11::object to_python(const nlohmann::json& value);

// The JSON form of dicts with str keys, lists, tuples, str, int, float, bool
// and None, nested at most 64 deep. Anything else throws
// warden::Error(kInvalidInput) naming the place, e.g. "metadata['a'][2]: a set
// has no JSON form". REQUIRES: the GIL is held.
nlohmann::json from_python(pybind11::handle value, const std::string& where);

}  // namespace warden::python
