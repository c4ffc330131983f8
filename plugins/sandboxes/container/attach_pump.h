// The attach pump: moves the program's stdin into the container's attach
// stream and its multiplexed output out, split into stdout and stderr under
// the output cap, while watching the wall time, the CPU time and
// cancellation.
#pragma once

#include <warden/plugin.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "engine/engine_client.h"

namespace warden::containers {

// Splits the attach stream's frames (8-byte header: stream, 0, 0, 0, size
// big-endian) into stdout and stderr, keeping at most `cap` bytes in all;
// each piece kept also goes to `stream` when given, as it arrives.
class Demultiplexer {
 public:
  explicit Demultiplexer(std::uint64_t cap, OutputStream* stream = nullptr)
      : cap_(cap), stream_out_(stream) {}

  void feed(const char* data, std::size_t size);
  bool truncated() const { return truncated_; }
  std::string out, err;

 private:
  void keep(std::string_view bytes);

  std::uint64_t cap_;
  OutputStream* stream_out_;
  std::string pending_;
  unsigned char stream_ = 1;
  std::uint32_t frame_left_ = 0;
  bool truncated_ = false;
};

// How the pump ended.
struct Pumped {
  bool timed_out = false;
  bool cpu_time_exceeded = false;
  bool cancelled = false;
  std::uint64_t wall_time_ms = 0;
};

// Moves stdin in and output out until the stream ends; calls `kill` once when
// the wall time runs out, `cpu_exhausted` says the run's CPU time is spent,
// the output cap is hit or the host cancels. After the kill the output may
// drain for a few seconds more.
Pumped pump(engine::AttachStream& stream, std::string_view stdin_data, Demultiplexer& output,
            std::chrono::steady_clock::time_point start, std::uint64_t wall_time_ms,
            const Cancellation& cancellation, const std::function<bool()>& cpu_exhausted,
            const std::function<void()>& kill);

}  // namespace warden::containers
