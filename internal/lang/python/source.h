// The text CPython compiles from the bytes of a program: decoded by its
// PEP 263 encoding declaration (`# coding: utf-7` on line 1 or 2; a UTF-8
// byte-order mark), line endings made "\n" (CPython reads CRLF and a lone
// CR as "\n", so a backslash before CRLF continues a string), and
// identifiers in their NFKC form (`ｓｙｓｔｅｍ` is `system`, PEP 3131).
// Analysing anything else would let a program say one thing to warden and
// another to the interpreter.
//
// Pure and thread-safe. Never throws for bad input: an encoding that cannot
// be decoded is reported in `error`, and `text` is then the bytes as given
// (with line endings normalised) so that callers can still look at them.
#pragma once

#include <string>
#include <string_view>

namespace warden::python {

struct SourceText {
  std::string text;      // what CPython compiles (valid only as far as `error` allows)
  std::string encoding;  // the declared encoding, lower case; "" when none
  std::string error;     // why the bytes could not be read as CPython reads them; "" if they could
  int error_line = 0;    // the line the error is about (the declaration), 1-based
};

// `raw` as CPython reads a source file. `declared_encoding` false: `raw` is
// already text (a string given to exec/eval), so no declaration applies.
SourceText read_source(std::string_view raw, bool declared_encoding = true);

// The NFKC form of a UTF-8 identifier; `name` itself when it is ASCII.
std::string nfkc_identifier(std::string_view name);

}  // namespace warden::python
