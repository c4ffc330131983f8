/*
 * warden plugin ABI — the C boundary between the warden host and its plugins.
 *
 * This header is the contract. It is plain C so that a plugin can be written
 * in any language that can export a C function; C++ authors should use the
 * helper in <warden/plugin.h>, which produces everything below from an
 * ordinary class and one macro.
 *
 * Rules that hold for every function in this file:
 *  - No exception, no C++ object and no memory allocated by one side is ever
 *    freed by the other. Data the host passes in (warden_bytes, strings) is
 *    owned by the host and valid only for the duration of the call. Data the
 *    plugin returns goes through a warden_sink: the host copies the bytes
 *    before write() returns.
 *  - Errors come back as a warden_status plus a human-readable UTF-8 message
 *    written to the `error` sink. A message about a configuration field
 *    starts with the field's JSON pointer ("/timeout_ms: must be positive")
 *    so that the host can point at the file, line and column.
 *  - Structured data crosses the boundary as UTF-8 JSON; its schemas are
 *    documented in docs/plugin-abi.md. Unknown keys must be ignored by the
 *    reader, which is how minor versions add fields.
 *  - Thread safety: create() and destroy() are called from one thread at a
 *    time. probe(), assess() and run() may be called concurrently from many
 *    threads on the same instance and must be safe to do so.
 *
 * Versioning: the host accepts a plugin whose abi_major equals the host's
 * WARDEN_ABI_MAJOR and whose abi_minor is not newer than the host's
 * WARDEN_ABI_MINOR. A minor version may only append fields at the end of the
 * structs below (each carries its own struct_size) and add JSON keys.
 */
#ifndef WARDEN_PLUGIN_ABI_H_
#define WARDEN_PLUGIN_ABI_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define WARDEN_ABI_MAJOR 1
#define WARDEN_ABI_MINOR 1

/* The one symbol every plugin exports. */
#define WARDEN_PLUGIN_ENTRY_SYMBOL "warden_plugin_entry"

#if defined(__GNUC__)
#define WARDEN_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define WARDEN_PLUGIN_EXPORT
#endif

typedef enum warden_status {
  WARDEN_OK = 0,
  /* The request or the plugin's settings are malformed. */
  WARDEN_ERR_INVALID_ARGUMENT = 1,
  /* A tool, daemon or kernel feature the plugin needs is missing or down. */
  WARDEN_ERR_UNAVAILABLE = 2,
  /* The plugin cannot do what was asked on this host (for a sandbox: it
   * cannot enforce a requested limit). The message names what and why. */
  WARDEN_ERR_UNSUPPORTED = 3,
  /* The deadline passed before the work finished. */
  WARDEN_ERR_TIMEOUT = 4,
  /* The external tool ran and failed: crashed, or printed garbage. */
  WARDEN_ERR_FAILED = 5,
  /* A bug or an unexpected condition inside the plugin. */
  WARDEN_ERR_INTERNAL = 6,
  /* The host asked the plugin to stop (see warden_cancel). */
  WARDEN_ERR_CANCELLED = 7
} warden_status;

typedef enum warden_plugin_kind {
  WARDEN_KIND_ASSESSOR = 1,
  WARDEN_KIND_SANDBOX = 2
} warden_plugin_kind;

/* A read-only byte range owned by the caller. */
typedef struct warden_bytes {
  const char* data;
  size_t size;
} warden_bytes;

/* An output channel owned by the host. The plugin may call write() any
 * number of times; the host appends and copies the bytes. */
typedef struct warden_sink {
  void* context;
  void (*write)(void* context, const char* data, size_t size);
} warden_sink;

/* Lets a long call notice that the host wants it to stop. cancelled()
 * returns non-zero once the host has given up on the call; the plugin should
 * then clean up and return WARDEN_ERR_CANCELLED promptly. */
typedef struct warden_cancel {
  void* context;
  int (*cancelled)(void* context);
} warden_cancel;

/* ---------------------------------------------------------------- assessor */

typedef struct warden_assess_request {
  size_t struct_size;    /* sizeof(warden_assess_request) as the host knows it */
  warden_bytes code;     /* the source text, UTF-8, not NUL-terminated */
  const char* language;  /* "python" */
  const char* file_name; /* display name for the code, e.g. "main.py" */
  uint64_t deadline_ms;  /* wall-clock budget; the host enforces it too */
  warden_cancel cancel;
} warden_assess_request;

typedef struct warden_assessor_vtable {
  size_t struct_size;
  /* Creates an instance from its settings (a JSON object, "{}" when the
   * configuration has none). Returns NULL on failure and writes why to
   * `error`. */
  void* (*create)(const char* settings_json, warden_sink error);
  void (*destroy)(void* instance);
  /* Writes an availability object to `out`:
   *   {"available": bool, "reason": str, "tool_version": str,
   *    "cache_key": str}
   * cache_key changes whenever the same code could get different findings
   * (tool version, rule files, settings). */
  warden_status (*probe)(void* instance, warden_sink out, warden_sink error);
  /* Writes {"findings": [finding...]} to `out`; see docs/plugin-abi.md. */
  warden_status (*assess)(void* instance, const warden_assess_request* request, warden_sink out,
                          warden_sink error);
} warden_assessor_vtable;

/* ----------------------------------------------------------------- sandbox */

/* A file placed in the program's working directory before it runs. */
typedef struct warden_file {
  /* Relative to the working directory, '/'-separated, NUL-terminated UTF-8;
   * the host has checked it (no "..", no absolute path: see
   * run_file_path_problem() in <warden/types.h>). */
  const char* path;
  warden_bytes content;
} warden_file;

/* Where a backend hands back the files the program left. add() copies the
 * path (NUL-terminated) and the bytes before it returns; call it once per
 * file, from one thread at a time. */
typedef struct warden_file_sink {
  void* context;
  void (*add)(void* context, const char* path, const char* data, size_t size);
} warden_file_sink;

typedef struct warden_run_request {
  size_t struct_size;
  /* The run specification as JSON: language, limits, network, environment,
   * user; see docs/plugin-abi.md. */
  const char* spec_json;
  warden_bytes code;       /* the program to run */
  warden_bytes stdin_data; /* fed to the program's standard input */
  warden_cancel cancel;
  /* Since 1.1. Files to place, read-only for the program, in its working
   * directory (they count against the scratch space's size); the host sends
   * none to a 1.0 backend. */
  const warden_file* input_files;
  size_t input_file_count;
  /* Since 1.1. The regular files the program left in its working directory,
   * other than the input files, handed back under the spec's output_files
   * and output_files_bytes limits; what is left out goes into the result's
   * "files_skipped" with the reason. */
  warden_file_sink output_files;
} warden_run_request;

typedef struct warden_sandbox_vtable {
  size_t struct_size;
  void* (*create)(const char* settings_json, warden_sink error);
  void (*destroy)(void* instance);
  /* Same shape as the assessor's probe; "reason" says why the backend is
   * unavailable (daemon down, socket permission, cgroup controller missing).
   */
  warden_status (*probe)(void* instance, warden_sink out, warden_sink error);
  /* Runs one program to completion. Writes the result object to `result`
   * and the program's captured output to `out` and `err`. A backend that
   * cannot enforce a requested limit returns WARDEN_ERR_UNSUPPORTED without
   * running anything. Whatever happens, nothing of the run is left behind
   * when run() returns. */
  warden_status (*run)(void* instance, const warden_run_request* request, warden_sink result,
                       warden_sink out, warden_sink err, warden_sink error);
} warden_sandbox_vtable;

/* --------------------------------------------------------------- descriptor */

typedef struct warden_plugin_descriptor {
  uint32_t abi_major; /* WARDEN_ABI_MAJOR the plugin was built with */
  uint32_t abi_minor; /* WARDEN_ABI_MINOR the plugin was built with */
  uint32_t kind;      /* a warden_plugin_kind */
  const char* name;   /* unique among loaded plugins: [a-z0-9_-]+ */
  const char* version;
  const char* description;
  /* Exactly one of these is set, matching `kind`. Static storage. */
  const warden_assessor_vtable* assessor;
  const warden_sandbox_vtable* sandbox;
} warden_plugin_descriptor;

/* The entry point: returns a descriptor in static storage. Called once per
 * load, before anything else; must not fail or allocate. */
typedef const warden_plugin_descriptor* (*warden_plugin_entry_fn)(void);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* WARDEN_PLUGIN_ABI_H_ */
