#include "program/port_file.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace beacon::program {

Status WritePortFile(const std::string& path, int port) {
  const std::string tmp = path + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "w");
  if (f == nullptr) {
    return Unavailable("cannot write port file " + path + ": " + std::strerror(errno));
  }
  std::fprintf(f, "%d\n", port);
  if (std::fclose(f) != 0 || std::rename(tmp.c_str(), path.c_str()) != 0) {
    return Unavailable("cannot write port file " + path + ": " + std::strerror(errno));
  }
  return Status::Ok();
}

}  // namespace beacon::program
