# Warnings every target of ours builds with; errors unless EC_WERROR is off.
function(ec_warnings tgt)
  target_compile_options(${tgt} PRIVATE -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes
    -Wmissing-prototypes -Wpointer-arith -Wundef -Wvla -Wimplicit-fallthrough
    -Wno-missing-field-initializers
    -Werror=implicit-function-declaration -Werror=return-type -Werror=incompatible-pointer-types
    $<$<BOOL:${EC_WERROR}>:-Werror>)
  target_include_directories(${tgt} PUBLIC ${CMAKE_SOURCE_DIR})
endfunction()
