#include "votes/writer_turn.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>
#include <utility>

namespace beacon::votes {

// The file's layout. `magic` is written last while initialising, so a file
// whose magic is 0 was never completely initialised (its opener died) and
// may be initialised again; only openers holding the file's lock look.
struct WriterTurn::Shared {
  uint64_t magic;
  uint32_t version;
  uint32_t mutex_size;  // sizeof(pthread_mutex_t) of the build that made it
  pthread_mutex_t mutex;
};

namespace {

constexpr uint64_t kMagic = 0x4e5255545243'4542ULL;  // "BECRTURN" (little-endian)
constexpr uint32_t kVersion = 1;
constexpr std::chrono::microseconds kLockRetry{100};

std::string Reason(int error) { return std::strerror(error); }

Status Unusable(const std::string& path, const std::string& what) {
  return Internal("writer turn file \"" + path + "\" " + what +
                  "; remove it while no replica uses it");
}

// Holds an open-file-description lock on the whole file: unlike a process's
// fcntl lock, it also excludes other threads of this process (a process may
// open several stores on one database) and is released when the descriptor
// closes, also when the process dies.
class FileLock {
 public:
  explicit FileLock(int fd) : fd_(fd) {}
  ~FileLock() {
    if (locked_) Set(F_UNLCK, F_OFD_SETLK);
  }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

  // 0 once locked, else errno (EAGAIN when still taken at `deadline`).
  int LockUntil(WriterTurn::Clock::time_point deadline) {
    while (true) {
      if (Set(F_WRLCK, F_OFD_SETLK) == 0) {
        locked_ = true;
        return 0;
      }
      const int error = errno;
      if (error != EAGAIN && error != EACCES && error != EINTR) return error;
      if (WriterTurn::Clock::now() >= deadline) return EAGAIN;
      std::this_thread::sleep_for(kLockRetry);
    }
  }

 private:
  int Set(short type, int command) {
    struct flock lock {};
    lock.l_type = type;
    lock.l_whence = SEEK_SET;
    lock.l_start = 0;
    lock.l_len = 0;  // the whole file
    return ::fcntl(fd_, command, &lock);
  }
  const int fd_;
  bool locked_ = false;
};

// Initialises the mutex in a zero-filled mapping, then the header.
int Initialise(pthread_mutex_t* mutex) {
  pthread_mutexattr_t attributes;
  int error = pthread_mutexattr_init(&attributes);
  if (error != 0) return error;
  error = pthread_mutexattr_setpshared(&attributes, PTHREAD_PROCESS_SHARED);
  if (error == 0) error = pthread_mutexattr_setrobust(&attributes, PTHREAD_MUTEX_ROBUST);
  if (error == 0) error = pthread_mutex_init(mutex, &attributes);
  pthread_mutexattr_destroy(&attributes);
  return error;
}

}  // namespace

Result<std::unique_ptr<WriterTurn>> WriterTurn::Open(const std::string& path,
                                                     Clock::time_point deadline) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return Unavailable("cannot open writer turn file \"" + path + "\": " + Reason(errno));
  }
  struct CloseUnlessKept {
    int fd;
    bool keep = false;
    ~CloseUnlessKept() {
      if (!keep) ::close(fd);
    }
  } closer{fd};

  Shared* shared = nullptr;
  {
    FileLock lock(fd);
    if (const int error = lock.LockUntil(deadline); error != 0) {
      return Unavailable("cannot lock writer turn file \"" + path +
                         "\" to open it: " + Reason(error));
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      return Unavailable("cannot stat writer turn file \"" + path +
                         "\": " + Reason(errno));
    }
    const auto size = static_cast<uint64_t>(st.st_size);
    if (size != 0 && size != sizeof(Shared)) {
      return Unusable(path, "has " + std::to_string(size) + " bytes, not " +
                                std::to_string(sizeof(Shared)));
    }
    if (size == 0 && ::ftruncate(fd, sizeof(Shared)) != 0) {
      return Unavailable("cannot size writer turn file \"" + path +
                         "\": " + Reason(errno));
    }
    void* mapped =
        ::mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (mapped == MAP_FAILED) {
      return Unavailable("cannot map writer turn file \"" + path +
                         "\": " + Reason(errno));
    }
    shared = static_cast<Shared*>(mapped);
    Status valid;
    if (shared->magic == 0) {
      // New, or its first opener died while initialising it: nobody uses
      // it, since nobody could have validated it.
      std::memset(static_cast<void*>(shared), 0, sizeof(Shared));
      if (const int error = Initialise(&shared->mutex); error != 0) {
        valid = Unavailable("cannot initialise writer turn file \"" + path +
                            "\": " + Reason(error));
      } else {
        shared->version = kVersion;
        shared->mutex_size = sizeof(pthread_mutex_t);
        __atomic_store_n(&shared->magic, kMagic, __ATOMIC_RELEASE);
      }
    } else if (shared->magic != kMagic) {
      valid = Unusable(path, "is not a writer turn file (bad magic number)");
    } else if (shared->version != kVersion ||
               shared->mutex_size != sizeof(pthread_mutex_t)) {
      valid = Unusable(path, "has version " + std::to_string(shared->version) +
                                 " and mutex size " + std::to_string(shared->mutex_size) +
                                 ", this build needs " + std::to_string(kVersion) +
                                 " and " + std::to_string(sizeof(pthread_mutex_t)));
    }
    if (!valid.ok()) {
      ::munmap(mapped, sizeof(Shared));
      return valid;
    }
  }
  closer.keep = true;
  return std::unique_ptr<WriterTurn>(new WriterTurn(path, fd, shared));
}

WriterTurn::WriterTurn(std::string path, int fd, Shared* shared)
    : path_(std::move(path)), fd_(fd), shared_(shared) {}

WriterTurn::~WriterTurn() {
  ::munmap(shared_, sizeof(Shared));
  ::close(fd_);
}

Status WriterTurn::Acquire(Clock::time_point deadline) {
  int result = pthread_mutex_trylock(&shared_->mutex);
  if (result == EBUSY) {
    waited_.fetch_add(1, std::memory_order_relaxed);
    // steady_clock is CLOCK_MONOTONIC on Linux: the same epoch.
    const auto since_epoch = deadline.time_since_epoch();
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
    struct timespec at {};
    at.tv_sec = static_cast<time_t>(seconds.count());
    at.tv_nsec = static_cast<long>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(since_epoch - seconds)
            .count());
    do {
      result = pthread_mutex_clocklock(&shared_->mutex, CLOCK_MONOTONIC, &at);
    } while (result == EINTR);
  }
  switch (result) {
    case 0:
      acquired_.fetch_add(1, std::memory_order_relaxed);
      return Status::Ok();
    case EOWNERDEAD:
      // The holder died inside its turn. What it wrote is SQLite's to undo;
      // the mutex itself is fine once marked consistent.
      pthread_mutex_consistent(&shared_->mutex);
      owner_died_.fetch_add(1, std::memory_order_relaxed);
      acquired_.fetch_add(1, std::memory_order_relaxed);
      return Status::Ok();
    case ETIMEDOUT:
      timed_out_.fetch_add(1, std::memory_order_relaxed);
      return Unavailable("writer turn not free within the deadline");
    default:
      failed_.fetch_add(1, std::memory_order_relaxed);
      return Internal("writer turn \"" + path_ + "\" unusable: " + Reason(result));
  }
}

void WriterTurn::Release() { pthread_mutex_unlock(&shared_->mutex); }

WriterTurn::Stats WriterTurn::stats() const {
  Stats s;
  s.acquired = acquired_.load(std::memory_order_relaxed);
  s.waited = waited_.load(std::memory_order_relaxed);
  s.timed_out = timed_out_.load(std::memory_order_relaxed);
  s.owner_died = owner_died_.load(std::memory_order_relaxed);
  s.failed = failed_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace beacon::votes
