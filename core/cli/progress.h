// A one-line note on standard error while a step of a command may take more
// than a second (the first start of the assessors, a sandbox run, an image
// build), so a person at a terminal sees what warden is waiting for.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

namespace warden::cli {

// Shown only when standard error is a terminal and `for_people` holds (the
// command prints for people: not --json or --sarif, not -q), and only once the
// whole task has taken over a second; the line is cleared when the object
// ends or clear() is called, before the command prints its result. Not shown
// otherwise, so scripts and pipes see no progress at all.
//
// One object per command; step() and clear() may be called from the
// command's thread while the display thread runs. Never throws after
// construction; a failed write to the terminal is ignored.
class Progress {
 public:
  Progress(bool for_people, std::string first_step);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // What warden is doing now, e.g. "running prog.py in the native sandbox".
  void step(std::string what);
  // Ends the display and clears its line; later step() calls show nothing.
  void clear();

 private:
  void show_until_cleared();

  const std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::mutex mutex_;
  std::condition_variable changed_;
  std::string step_;
  bool cleared_ = false;
  std::thread display_;
};

}  // namespace warden::cli
