# FERRY_SANITIZE=address,undefined builds every target with those sanitizers.
if(FERRY_SANITIZE)
  message(STATUS "ferry: building with -fsanitize=${FERRY_SANITIZE}")
  add_compile_options(-fsanitize=${FERRY_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=${FERRY_SANITIZE})
endif()
