# EmbedFiles: builds files (the socket.io-client bundle, the chat page) into the binary.
#
#   sio_embed_files(TARGET <lib> NAME <ident> BASE_DIR <dir> FILES <file>...
#                   [VERSION <text>] [COMPRESS] [INCLUDE <header>])
#
# adds to <lib> a generated source that defines
#   socketio::net::EmbeddedTable socketio::net::embedded::<ident>() noexcept;
# (the types are declared in <header>, net/static_files.hpp by default, which the generated file
# includes with SIO_EMBEDDED_TYPES_ONLY defined so as to parse just them): one EmbeddedFile per file,
# named by its path relative to BASE_DIR, with its content type, a SHA-256 prefix for ETags and,
# with COMPRESS, gzip (-9 -n) and brotli (quality 11) variants made once at build time, so no
# request ever pays for compression. An empty FILES list gives an empty table (the caller warns).
#
# How the bytes get in: on ELF toolchains (GCC, Clang on Linux) the generated .cpp holds a
# top-level asm block with one `.incbin` per file, so the assembler copies the bytes and the
# compiler parses a few dozen lines: 0.3 s of CPU for the 1.2 MB bundle plus its variants (1.7 MB,
# most of the time going to <span>), where the same bytes as a `0x2f,` array (xxd -i style, an
# 8.8 MB source) take 2.5 s (GCC 12, -g). Elsewhere (or with -DSIO_EMBED_MODE=hex) the generator
# writes such an array instead. Either way the generator runs at build time, after the
# compressors, and is re-run whenever an input changes: the compiler's depfile cannot see an
# .incbin'd file, so the rewritten .cpp (whose table also carries each file's hash, which keeps
# ccache honest) is what triggers the rebuild.
#
# The same file is the generator's script (cmake -P) at build time; see the bottom.

if(NOT CMAKE_SCRIPT_MODE_FILE)
  set(SIO_EMBED_MODE "auto" CACHE STRING "How files are embedded: auto, incbin (GNU as, ELF) or hex (a C array)")
  set_property(CACHE SIO_EMBED_MODE PROPERTY STRINGS auto incbin hex)
endif()

# The Content-Type sent for a file name (the embedded table carries it, so it is decided here).
function(_sio_embed_content_type name out)
  string(TOLOWER "${name}" lower)
  set(type "application/octet-stream")
  if(lower MATCHES "\\.(js|mjs)$")
    set(type "application/javascript; charset=utf-8")
  elseif(lower MATCHES "\\.(map|json)$")
    set(type "application/json")
  elseif(lower MATCHES "\\.html?$")
    set(type "text/html; charset=utf-8")
  elseif(lower MATCHES "\\.css$")
    set(type "text/css; charset=utf-8")
  elseif(lower MATCHES "\\.svg$")
    set(type "image/svg+xml")
  elseif(lower MATCHES "\\.png$")
    set(type "image/png")
  elseif(lower MATCHES "\\.ico$")
    set(type "image/x-icon")
  elseif(lower MATCHES "\\.txt$")
    set(type "text/plain; charset=utf-8")
  endif()
  set(${out} "${type}" PARENT_SCOPE)
endfunction()

function(sio_embed_files)
  cmake_parse_arguments(ARG "COMPRESS" "TARGET;NAME;BASE_DIR;VERSION;INCLUDE" "FILES" ${ARGN})
  if(NOT ARG_TARGET OR NOT ARG_NAME OR NOT ARG_BASE_DIR)
    message(FATAL_ERROR "sio_embed_files: TARGET, NAME and BASE_DIR are required")
  endif()
  if(NOT ARG_NAME MATCHES "^[A-Za-z_][A-Za-z0-9_]*$")
    message(FATAL_ERROR "sio_embed_files: NAME must be a C++ identifier, got '${ARG_NAME}'")
  endif()
  if(NOT ARG_INCLUDE)
    set(ARG_INCLUDE "net/static_files.hpp")
  endif()
  set(script "${CMAKE_CURRENT_FUNCTION_LIST_FILE}")

  set(mode "${SIO_EMBED_MODE}")
  if(mode STREQUAL "auto")
    if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang" AND CMAKE_EXECUTABLE_FORMAT STREQUAL "ELF")
      set(mode "incbin")
    else()
      set(mode "hex")
    endif()
  endif()

  set(gzip_exe "")
  set(brotli_exe "")
  if(ARG_COMPRESS)
    find_program(SIO_GZIP_EXECUTABLE gzip)
    find_program(SIO_BROTLI_EXECUTABLE brotli)
    if(SIO_GZIP_EXECUTABLE)
      set(gzip_exe "${SIO_GZIP_EXECUTABLE}")
    else()
      message(WARNING "sio_embed_files(${ARG_NAME}): gzip not found; embedded files get no gzip variant")
    endif()
    if(SIO_BROTLI_EXECUTABLE)
      set(brotli_exe "${SIO_BROTLI_EXECUTABLE}")
    else()
      message(WARNING "sio_embed_files(${ARG_NAME}): the brotli CLI is not found (Debian: apt-get install brotli); "
                      "embedded files get no br variant")
    endif()
  endif()

  set(out_dir "${CMAKE_CURRENT_BINARY_DIR}/embed/${ARG_NAME}")
  set(out_cpp "${CMAKE_CURRENT_BINARY_DIR}/embed/${ARG_NAME}.cpp")
  # The manifest: one line per file, "name|path|gzip path|brotli path" (no field can hold a '|'
  # or a ';', which would split the line when it is read back as a CMake list).
  set(manifest "")
  set(depends "")
  foreach(file IN LISTS ARG_FILES)
    cmake_path(ABSOLUTE_PATH file BASE_DIRECTORY "${ARG_BASE_DIR}" NORMALIZE OUTPUT_VARIABLE abs)
    cmake_path(RELATIVE_PATH abs BASE_DIRECTORY "${ARG_BASE_DIR}" OUTPUT_VARIABLE name)
    if(name MATCHES "^\\.\\./|[|;\"\\\\]" OR name STREQUAL "")
      message(FATAL_ERROR "sio_embed_files(${ARG_NAME}): '${file}' is outside BASE_DIR or has an odd name")
    endif()
    if(abs MATCHES ";")
      message(FATAL_ERROR "sio_embed_files(${ARG_NAME}): '${abs}': a ';' in a path is not supported")
    endif()
    list(APPEND depends "${abs}")
    set(gz "")
    set(br "")
    if(gzip_exe)
      set(gz "${out_dir}/${name}.gz")
      add_custom_command(OUTPUT "${gz}"
        COMMAND "${CMAKE_COMMAND}" "-DSIO_EMBED_STEP=gzip" "-DSIO_EMBED_GZIP=${gzip_exe}"
                "-DSIO_EMBED_IN=${abs}" "-DSIO_EMBED_OUT=${gz}" -P "${script}"
        DEPENDS "${abs}" "${script}"
        COMMENT "gzip -9 ${ARG_NAME}/${name}"
        VERBATIM)
      list(APPEND depends "${gz}")
    endif()
    if(brotli_exe)
      set(br "${out_dir}/${name}.br")
      cmake_path(GET br PARENT_PATH br_dir)
      add_custom_command(OUTPUT "${br}"
        COMMAND "${CMAKE_COMMAND}" -E make_directory "${br_dir}"
        COMMAND "${brotli_exe}" -q 11 -n -f -o "${br}" "${abs}"
        DEPENDS "${abs}"
        COMMENT "brotli -q 11 ${ARG_NAME}/${name}"
        VERBATIM)
      list(APPEND depends "${br}")
    endif()
    string(APPEND manifest "${name}|${abs}|${gz}|${br}\n")
  endforeach()

  set(manifest_file "${out_dir}.manifest")
  # Written only when it changes, so a re-configure does not rebuild the embedded files.
  file(CONFIGURE OUTPUT "${manifest_file}" CONTENT "${manifest}" @ONLY)
  add_custom_command(OUTPUT "${out_cpp}"
    COMMAND "${CMAKE_COMMAND}" "-DSIO_EMBED_STEP=generate" "-DSIO_EMBED_MANIFEST=${manifest_file}"
            "-DSIO_EMBED_NAME=${ARG_NAME}" "-DSIO_EMBED_VERSION=${ARG_VERSION}" "-DSIO_EMBED_MODE=${mode}"
            "-DSIO_EMBED_INCLUDE=${ARG_INCLUDE}" "-DSIO_EMBED_OUT=${out_cpp}" -P "${script}"
    DEPENDS ${depends} "${manifest_file}" "${script}"
    COMMENT "Embedding ${ARG_NAME} (${mode})"
    VERBATIM)
  target_sources(${ARG_TARGET} PRIVATE "${out_cpp}")
endfunction()

# ---- build-time steps (cmake -P) -------------------------------------------------------------

# gzip -9 -n: -n leaves out the name and time stamp, so the output depends on the bytes only.
function(_sio_embed_gzip)
  cmake_path(GET SIO_EMBED_OUT PARENT_PATH dir)
  file(MAKE_DIRECTORY "${dir}")
  execute_process(COMMAND "${SIO_EMBED_GZIP}" -9 -n -c "${SIO_EMBED_IN}"
                  OUTPUT_FILE "${SIO_EMBED_OUT}" RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    file(REMOVE "${SIO_EMBED_OUT}")
    message(FATAL_ERROR "gzip failed (${rc}) on ${SIO_EMBED_IN}")
  endif()
endfunction()

# C++ string literal text for s (names, types and paths are plain ASCII without quotes).
function(_sio_embed_quote s out)
  string(REPLACE "\\" "\\\\" s "${s}")
  string(REPLACE "\"" "\\\"" s "${s}")
  set(${out} "\"${s}\"" PARENT_SCOPE)
endfunction()

function(_sio_embed_generate)
  file(STRINGS "${SIO_EMBED_MANIFEST}" lines)
  set(sym_prefix "sio_embed_${SIO_EMBED_NAME}_")
  set(asm "")
  set(decls "")
  set(rows "")
  set(index 0)
  # Each blob gets a symbol; `_sio_blob` sets <var>_expr to the C++ expression of its Blob value.
  macro(_sio_blob path var)
    if("${path}" STREQUAL "")
      set(${var}_expr "{}")
    else()
      file(SIZE "${path}" size)
      set(sym "${sym_prefix}${index}")
      math(EXPR index "${index} + 1")
      if(SIO_EMBED_MODE STREQUAL "incbin")
        # .incbin takes a quoted path inside the asm string: escape for both levels.
        string(REPLACE "\\" "\\\\\\\\" asm_path "${path}")
        string(REPLACE "\"" "\\\\\\\"" asm_path "${asm_path}")
        string(APPEND asm
          "    \".balign 16\\n.globl ${sym}\\n.hidden ${sym}\\n.type ${sym}, STT_OBJECT\\n\"\n"
          "    \"${sym}:\\n.incbin \\\"${asm_path}\\\"\\n.size ${sym}, ${size}\\n\"\n")
        string(APPEND decls "extern \"C\" const unsigned char ${sym}[];\n")
      else()
        file(READ "${path}" hex HEX)
        if(hex STREQUAL "")
          set(bytes "0")
        else()
          string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
        endif()
        string(APPEND decls "alignas(16) const unsigned char ${sym}[] = {${bytes}};\n")
      endif()
      set(${var}_expr "{${sym}, ${size}}")
    endif()
  endmacro()

  foreach(line IN LISTS lines)
    string(REPLACE "|" ";" fields "${line}")
    list(LENGTH fields n)
    # Empty trailing fields vanish from the list: pad them back.
    while(n LESS 4)
      list(APPEND fields "")
      math(EXPR n "${n} + 1")
    endwhile()
    list(GET fields 0 name)
    list(GET fields 1 path)
    list(GET fields 2 gz)
    list(GET fields 3 br)
    _sio_embed_content_type("${name}" type)
    file(SHA256 "${path}" sha)
    string(SUBSTRING "${sha}" 0 16 sha)
    _sio_blob("${path}" data)
    _sio_blob("${gz}" gz)
    _sio_blob("${br}" br)
    _sio_embed_quote("${name}" qname)
    _sio_embed_quote("${type}" qtype)
    string(APPEND rows "    {${qname}, ${qtype}, \"${sha}\", ${data_expr}, ${gz_expr}, ${br_expr}},\n")
  endforeach()

  _sio_embed_quote("${SIO_EMBED_VERSION}" qversion)
  set(src "// Generated by cmake/EmbedFiles.cmake (${SIO_EMBED_MODE} mode) from ${SIO_EMBED_MANIFEST}. Do not edit.\n")
  string(APPEND src "#define SIO_EMBEDDED_TYPES_ONLY\n#include \"${SIO_EMBED_INCLUDE}\"\n\n")
  if(asm)
    # .rodata, with the symbols hidden: the table below is the only way to reach them.
    string(APPEND src "__asm__(\n    \".pushsection .rodata.${SIO_EMBED_NAME}, \\\"a\\\"\\n\"\n"
                      "${asm}    \".popsection\\n\");\n\n")
  endif()
  if(decls)
    if(SIO_EMBED_MODE STREQUAL "incbin")
      string(APPEND src "${decls}\n")
    else()
      string(APPEND src "namespace {\n${decls}}  // namespace\n\n")
    endif()
  endif()
  string(APPEND src "namespace socketio::net::embedded {\n\n")
  if(rows)
    string(APPEND src "namespace {\nconstexpr EmbeddedFile kFiles[] = {\n${rows}};\n}  // namespace\n\n")
    string(APPEND src "EmbeddedTable ${SIO_EMBED_NAME}() noexcept { return {${qversion}, kFiles}; }\n\n")
  else()
    string(APPEND src "EmbeddedTable ${SIO_EMBED_NAME}() noexcept { return {${qversion}, {}}; }\n\n")
  endif()
  string(APPEND src "}  // namespace socketio::net::embedded\n")
  file(WRITE "${SIO_EMBED_OUT}" "${src}")
endfunction()

if(CMAKE_SCRIPT_MODE_FILE AND DEFINED SIO_EMBED_STEP)
  if(SIO_EMBED_STEP STREQUAL "gzip")
    _sio_embed_gzip()
  elseif(SIO_EMBED_STEP STREQUAL "generate")
    _sio_embed_generate()
  else()
    message(FATAL_ERROR "EmbedFiles.cmake: unknown step '${SIO_EMBED_STEP}'")
  endif()
endif()
