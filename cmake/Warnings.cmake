# Warnings for every ferry target; they stay warnings so a newer compiler does not break the build.
add_library(ferry_warnings INTERFACE)
target_compile_options(ferry_warnings INTERFACE -Wall -Wextra -Wno-missing-field-initializers)
