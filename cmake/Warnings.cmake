# Warnings for every ferry target; they stay warnings so a newer compiler does not break the build.
add_library(ferry_warnings INTERFACE)
target_compile_options(ferry_warnings INTERFACE -Wall -Wextra -Wno-missing-field-initializers
  # Boost 1.74 awaitable frames trip a false positive in g++ 12.
  $<$<CXX_COMPILER_ID:GNU>:-Wno-mismatched-new-delete>)
