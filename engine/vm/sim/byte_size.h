// Parses sizes such as "4096", "64M", "1G", "512KiB" (binary units). Pure.
#pragma once

#include <cstdint>
#include <string_view>

#include "engine/error/error.h"

namespace ferry::sim {

Result<uint64_t> parse_byte_size(std::string_view text);

}  // namespace ferry::sim
