#include "cli/progress.h"

#include <unistd.h>

#include <cstdio>

namespace warden::cli {

namespace {

constexpr auto kQuietFor = std::chrono::seconds(1);
constexpr auto kRedrawEvery = std::chrono::milliseconds(100);

void write_to_terminal(const std::string& text) {
  // Best effort: a terminal that went away must not fail the command.
  if (::write(STDERR_FILENO, text.data(), text.size()) < 0) return;
}

}  // namespace

Progress::Progress(bool for_people, std::string first_step) : step_(std::move(first_step)) {
  if (for_people && ::isatty(STDERR_FILENO))
    display_ = std::thread([this] { show_until_cleared(); });
}

Progress::~Progress() {
  clear();
}

void Progress::step(std::string what) {
  std::lock_guard lock(mutex_);
  step_ = std::move(what);
}

void Progress::clear() {
  {
    std::lock_guard lock(mutex_);
    cleared_ = true;
  }
  changed_.notify_all();
  if (display_.joinable()) display_.join();
}

void Progress::show_until_cleared() {
  static constexpr const char* kSpinner[] = {"|", "/", "-", "\\"};
  std::unique_lock lock(mutex_);
  if (changed_.wait_until(lock, start_ + kQuietFor, [this] { return cleared_; })) return;
  for (unsigned frame = 0; !cleared_; ++frame) {
    auto elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_);
    char seconds[32];
    std::snprintf(seconds, sizeof seconds, " (%.1f s)", elapsed.count());
    // \r and "erase line" redraw in place; the step text is ours, not the program's.
    write_to_terminal("\r\x1b[2K" + std::string(kSpinner[frame % 4]) + " " + step_ + seconds);
    changed_.wait_for(lock, kRedrawEvery, [this] { return cleared_; });
  }
  write_to_terminal("\r\x1b[2K");
}

}  // namespace warden::cli
