// The registry's live dashboard: one self-contained HTML page (styles and
// script inline, nothing fetched from elsewhere) that long-polls
// /v1/events and redraws on every change; lease times count down locally.
#pragma once

#include <string>

namespace beacon::dashboard {

// The page, embedded in the binary.
const std::string& DashboardPage();

}  // namespace beacon::dashboard
