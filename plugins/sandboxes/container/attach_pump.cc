#include "attach_pump.h"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <optional>

namespace warden::containers {
namespace {

using Clock = std::chrono::steady_clock;

// After a kill, how long the output may take to drain before we stop reading.
constexpr auto kDrainAfterKill = std::chrono::seconds(5);

}  // namespace

void Demultiplexer::feed(const char* data, std::size_t size) {
  pending_.append(data, size);
  std::size_t pos = 0;
  while (true) {
    if (frame_left_ == 0) {
      if (pending_.size() - pos < 8) break;
      stream_ = static_cast<unsigned char>(pending_[pos]);
      frame_left_ = (std::uint32_t{static_cast<unsigned char>(pending_[pos + 4])} << 24) |
                    (std::uint32_t{static_cast<unsigned char>(pending_[pos + 5])} << 16) |
                    (std::uint32_t{static_cast<unsigned char>(pending_[pos + 6])} << 8) |
                    std::uint32_t{static_cast<unsigned char>(pending_[pos + 7])};
      pos += 8;
      continue;
    }
    std::size_t take = std::min<std::size_t>(frame_left_, pending_.size() - pos);
    if (take == 0) break;
    keep(std::string_view(pending_).substr(pos, take));
    pos += take;
    frame_left_ -= static_cast<std::uint32_t>(take);
  }
  pending_.erase(0, pos);
}

void Demultiplexer::keep(std::string_view bytes) {
  std::uint64_t used = out.size() + err.size();
  std::size_t room = static_cast<std::size_t>(cap_ - std::min(cap_, used));
  if (bytes.size() > room) truncated_ = true;
  std::string_view kept = bytes.substr(0, room);
  (stream_ == 2 ? err : out).append(kept);
  if (stream_out_ != nullptr) {
    if (stream_ == 2)
      stream_out_->write_stderr(kept);
    else
      stream_out_->write_stdout(kept);
  }
}

Pumped pump(engine::AttachStream& stream, std::string_view stdin_data, Demultiplexer& output,
            Clock::time_point start, std::uint64_t wall_time_ms, const Cancellation& cancellation,
            const std::function<bool()>& cpu_exhausted, const std::function<void()>& kill) {
  Pumped result;
  std::string early = stream.take_already_read();
  output.feed(early.data(), early.size());
  std::size_t written = 0;
  bool stdin_open = true;
  auto finish_stdin = [&] {
    if (stdin_open) stream.close_stdin();
    stdin_open = false;
  };
  if (stdin_data.empty()) finish_stdin();
  const auto deadline = start + std::chrono::milliseconds(wall_time_ms);
  std::optional<Clock::time_point> killed_at;
  auto kill_once = [&] {
    if (killed_at) return;
    killed_at = Clock::now();
    kill();
  };
  char buffer[65536];
  while (true) {
    auto now = Clock::now();
    if (!killed_at && now >= deadline) {
      result.timed_out = true;
      kill_once();
    }
    if (!killed_at && cancellation.cancelled()) {
      result.cancelled = true;
      kill_once();
    }
    if (!killed_at && cpu_exhausted()) {
      result.cpu_time_exceeded = true;
      kill_once();
    }
    if (!killed_at && output.truncated()) kill_once();
    if (killed_at && now - *killed_at > kDrainAfterKill) break;
    pollfd fd{stream.fd(), static_cast<short>(POLLIN | (stdin_open ? POLLOUT : 0)), 0};
    int wait_ms = 20;
    if (!killed_at)
      wait_ms = static_cast<int>(std::clamp<long long>(
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count(), 0, 20));
    if (::poll(&fd, 1, wait_ms) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fd.revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = ::recv(stream.fd(), buffer, sizeof buffer, MSG_DONTWAIT);
      if (n == 0) break;
      if (n < 0 && errno != EAGAIN && errno != EINTR) break;
      if (n > 0) output.feed(buffer, static_cast<std::size_t>(n));
    }
    if (stdin_open && (fd.revents & POLLOUT)) {
      ssize_t n = ::send(stream.fd(), stdin_data.data() + written, stdin_data.size() - written,
                         MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n > 0) written += static_cast<std::size_t>(n);
      if ((n < 0 && errno != EAGAIN && errno != EINTR) || written == stdin_data.size())
        finish_stdin();
    }
  }
  result.wall_time_ms = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count());
  return result;
}

}  // namespace warden::containers
