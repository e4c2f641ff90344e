#include "program/logging.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace beacon::program {

Status SetUpLogging(const std::string& program, const std::string& level) {
  const auto lvl = spdlog::level::from_str(level);
  // from_str maps unknown names to "off"; only accept it when asked for.
  if (lvl == spdlog::level::off && level != "off") {
    return InvalidArgument(
        "--log-level must be one of trace, debug, info, warn, error, off; got '" + level +
        "'");
  }
  auto logger = spdlog::stderr_logger_mt(program);
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %n: %v");
  logger->set_level(lvl);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
  return Status::Ok();
}

}  // namespace beacon::program
