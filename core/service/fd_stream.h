// A connected socket as Beast's SyncReadStream and SyncWriteStream, for the
// service and its clients: every wait is bounded by `timeout` (negative:
// unbounded), and a read also ends (with asio::error::timed_out) once
// `stop_fd` becomes readable (-1: never). Does not own the descriptors.
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/system/system_error.hpp>
#include <cerrno>
#include <chrono>
#include <cstdint>

namespace warden::service {

namespace asio = boost::asio;
using boost::system::error_code;

class FdStream {
 public:
  FdStream(int fd, int stop_fd, std::chrono::milliseconds timeout)
      : fd_(fd), stop_fd_(stop_fd), timeout_(timeout) {}

  // A read or write also ends (with asio::error::connection_aborted) once the
  // peer of `fd` hangs up: a relay stops waiting for an answer nobody reads.
  void end_when_gone(int fd) { gone_fd_ = fd; }

  template <class Buffers>
  std::size_t read_some(const Buffers& buffers, error_code& ec) {
    ec = {};
    asio::mutable_buffer buffer = first_nonempty(buffers);
    if (buffer.size() == 0) return 0;
    if (!wait(POLLIN, true, ec)) return 0;
    ssize_t n = ::read(fd_, buffer.data(), buffer.size());
    if (n < 0) {
      ec = error_code(errno, boost::system::system_category());
      return 0;
    }
    if (n == 0) ec = asio::error::eof;
    return static_cast<std::size_t>(n);
  }

  template <class Buffers>
  std::size_t write_some(const Buffers& buffers, error_code& ec) {
    ec = {};
    for (auto it = asio::buffer_sequence_begin(buffers); it != asio::buffer_sequence_end(buffers);
         ++it) {
      asio::const_buffer buffer(*it);
      if (buffer.size() == 0) continue;
      if (!wait(POLLOUT, false, ec)) return 0;
      ssize_t n = ::send(fd_, buffer.data(), buffer.size(), MSG_NOSIGNAL);
      if (n < 0) {
        ec = error_code(errno, boost::system::system_category());
        return 0;
      }
      return static_cast<std::size_t>(n);
    }
    return 0;
  }

  template <class Buffers>
  std::size_t read_some(const Buffers& buffers) {
    error_code ec;
    std::size_t n = read_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }

  template <class Buffers>
  std::size_t write_some(const Buffers& buffers) {
    error_code ec;
    std::size_t n = write_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }

 private:
  template <class Buffers>
  static asio::mutable_buffer first_nonempty(const Buffers& buffers) {
    for (auto it = asio::buffer_sequence_begin(buffers); it != asio::buffer_sequence_end(buffers);
         ++it)
      if (asio::mutable_buffer(*it).size() > 0) return *it;
    return {};
  }

  bool wait(short events, bool stop_ends_it, error_code& ec) {
    pollfd fds[3] = {{fd_, events, 0}, {stop_fd_, POLLIN, 0}, {gone_fd_, POLLRDHUP, 0}};
    if (!stop_ends_it) fds[1].fd = -1;  // poll() skips negative descriptors
    int n = ::poll(fds, 3, static_cast<int>(std::min<std::int64_t>(timeout_.count(), INT32_MAX)));
    if (n < 0 && errno == EINTR) return wait(events, stop_ends_it, ec);
    if (n < 0) {
      ec = error_code(errno, boost::system::system_category());
      return false;
    }
    if (fds[2].revents & (POLLRDHUP | POLLHUP | POLLERR)) {
      ec = asio::error::connection_aborted;
      return false;
    }
    if (n == 0 || (fds[1].revents & POLLIN)) {
      ec = asio::error::timed_out;
      return false;
    }
    return true;
  }

  int fd_;
  int stop_fd_;
  int gone_fd_ = -1;
  std::chrono::milliseconds timeout_;
};

}  // namespace warden::service
