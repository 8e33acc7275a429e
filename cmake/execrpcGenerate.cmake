# execrpcGenerate.cmake — execrpc_generate(), included by execrpcConfig.cmake
# (find_package(execrpc) with the server component installed).
#
#   execrpc_generate(TARGET <target> PROTOS <file.proto>...
#                    [IMPORT_DIRS <dir>...]
#                    [OPTIONS_FILES <file.options>...]
#                    [SIDE both|server|client]
#                    [PLUGIN ON|OFF]
#                    [OUT_DIR <dir>])
#
# Generates C code from PROTOS at build time (one protoc run) and adds it to
# <target>. Each proto is named by its path under the import directory that
# holds it (proto/kv/v1/kv.proto with IMPORT_DIRS proto: kv/v1/kv.proto), and
# its files are written under OUT_DIR with that name:
#   server side  NAME.pb-c.h/.c  protobuf-c messages (protoc-gen-c)
#                NAME.xr.h/.c    typed handlers registered by method name,
#                                with the methods' size limits
#                                (protoc-gen-execrpc side=server)
#   client side  NAME.pb.h/.c    nanopb messages (protoc-gen-nanopb)
#                NAME.xrc.h/.c   typed blocking and async stubs
#                                (protoc-gen-execrpc side=client)
# NAME.xr.* and NAME.xrc.* exist only for a .proto that declares a service
# with at least one method. The .c files become sources of <target>, OUT_DIR
# a PUBLIC include directory of it (#include "kv/v1/kv.xr.h"). The target
# links what the code needs itself: execrpc::server for the server side,
# execrpc::client for the client side.
#
#   IMPORT_DIRS    protoc's -I, in order (relative paths: to the current
#                  source dir). Every proto must be under one. Default: the
#                  directory of each proto. The directory of nanopb.proto is
#                  always added last, so protos may import "nanopb.proto".
#   OPTIONS_FILES  nanopb generator options (max_size, max_count, ...) kept
#                  elsewhere than next to their protos: FILE.options applies
#                  to the proto named FILE.proto in PROTOS. By default
#                  NAME.options next to NAME.proto (under its import dir) is
#                  read; an OPTIONS_FILES entry takes precedence over it.
#                  nanopb and protoc-gen-execrpc read the same files, so the
#                  client's buffers and the server's limits agree. Every
#                  .options file read is a dependency of the generated code.
#   SIDE           both (default), server or client.
#   PLUGIN         ON (default): run protoc-gen-execrpc, which must be
#                  installed with the package (execrpc::protoc-gen-execrpc)
#                  or named by EXECRPC_PROTOC_GEN_EXECRPC; configuring fails
#                  otherwise. OFF: messages only (no NAME.xr.*/.xrc.*).
#   OUT_DIR        default ${CMAKE_CURRENT_BINARY_DIR}/execrpc_gen/<target>.
#
# Tools (cache variables, found on PATH and in the Debian locations):
# EXECRPC_PROTOC (protobuf-compiler), EXECRPC_PROTOC_GEN_C
# (protobuf-c-compiler), EXECRPC_PROTOC_GEN_NANOPB and
# EXECRPC_NANOPB_PROTO_DIR (nanopb). Call execrpc_generate() in the
# directory that creates <target>.

# 1 in `out` if the .proto at `path` declares a service with a method.
function(_execrpc_proto_has_methods path out)
  file(READ "${path}" text)
  # comments out ("rpc" in a comment is not a method)
  string(REGEX REPLACE "/\\*([^*]|\\*+[^*/])*\\*+/" " " text "${text}")
  string(REGEX REPLACE "//[^\n]*" " " text "${text}")
  if(text MATCHES "(^|[^A-Za-z0-9_.])service[ \t\r\n]+[A-Za-z_][A-Za-z0-9_]*[ \t\r\n]*{[^}]*(^|[^A-Za-z0-9_])rpc[ \t\r\n]")
    set(${out} 1 PARENT_SCOPE)
  else()
    set(${out} 0 PARENT_SCOPE)
  endif()
endfunction()

function(_execrpc_find_tools need_nanopb)
  find_program(EXECRPC_PROTOC protoc)
  if(NOT EXECRPC_PROTOC)
    message(FATAL_ERROR "execrpc_generate: protoc not found "
      "(Debian: protobuf-compiler); or set EXECRPC_PROTOC")
  endif()
  find_program(EXECRPC_PROTOC_GEN_C protoc-gen-c)
  if(NOT EXECRPC_PROTOC_GEN_C)
    message(FATAL_ERROR "execrpc_generate: protoc-gen-c not found "
      "(Debian: protobuf-c-compiler); or set EXECRPC_PROTOC_GEN_C")
  endif()
  find_program(EXECRPC_PROTOC_GEN_NANOPB protoc-gen-nanopb)
  find_path(EXECRPC_NANOPB_PROTO_DIR nanopb.proto
    PATHS /usr/lib/python3/dist-packages/proto
    PATH_SUFFIXES proto nanopb/generator/proto)
  if(need_nanopb AND NOT EXECRPC_PROTOC_GEN_NANOPB)
    message(FATAL_ERROR "execrpc_generate: protoc-gen-nanopb not found "
      "(Debian: nanopb); or set EXECRPC_PROTOC_GEN_NANOPB")
  endif()
  if(NOT EXECRPC_NANOPB_PROTO_DIR)
    message(FATAL_ERROR "execrpc_generate: nanopb.proto not found "
      "(Debian: nanopb); or set EXECRPC_NANOPB_PROTO_DIR")
  endif()
endfunction()

function(execrpc_generate)
  cmake_parse_arguments(PARSE_ARGV 0 arg ""
    "TARGET;SIDE;PLUGIN;OUT_DIR" "PROTOS;IMPORT_DIRS;OPTIONS_FILES")
  if(arg_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "execrpc_generate: unknown arguments: "
      "${arg_UNPARSED_ARGUMENTS} (known: TARGET, PROTOS, IMPORT_DIRS, "
      "OPTIONS_FILES, SIDE, PLUGIN, OUT_DIR)")
  endif()
  if(NOT arg_TARGET OR NOT TARGET "${arg_TARGET}")
    message(FATAL_ERROR "execrpc_generate: TARGET \"${arg_TARGET}\" is not "
      "a target (create it before calling execrpc_generate)")
  endif()
  if(NOT arg_PROTOS)
    message(FATAL_ERROR "execrpc_generate(TARGET ${arg_TARGET}): no PROTOS")
  endif()
  if(NOT DEFINED arg_SIDE)
    set(arg_SIDE both)
  endif()
  if(NOT arg_SIDE MATCHES "^(both|server|client)$")
    message(FATAL_ERROR "execrpc_generate(TARGET ${arg_TARGET}): SIDE "
      "\"${arg_SIDE}\" (known: both, server, client)")
  endif()
  set(server 0)
  set(client 0)
  if(arg_SIDE MATCHES "^(both|server)$")
    set(server 1)
  endif()
  if(arg_SIDE MATCHES "^(both|client)$")
    set(client 1)
  endif()
  if(NOT DEFINED arg_PLUGIN)
    set(arg_PLUGIN ON)
  endif()
  if(NOT DEFINED arg_OUT_DIR)
    set(arg_OUT_DIR "${CMAKE_CURRENT_BINARY_DIR}/execrpc_gen/${arg_TARGET}")
  endif()
  get_filename_component(out "${arg_OUT_DIR}" ABSOLUTE
    BASE_DIR "${CMAKE_CURRENT_BINARY_DIR}")
  _execrpc_find_tools(${client})

  # the plugin
  set(plugin "")
  set(plugin_dep "")
  if(arg_PLUGIN)
    if(EXECRPC_PROTOC_GEN_EXECRPC)
      set(plugin "${EXECRPC_PROTOC_GEN_EXECRPC}")
      set(plugin_dep "${plugin}")
    elseif(TARGET execrpc::protoc-gen-execrpc)
      get_target_property(plugin execrpc::protoc-gen-execrpc IMPORTED_LOCATION)
      set(plugin_dep "${plugin}")
    else()
      message(FATAL_ERROR "execrpc_generate(TARGET ${arg_TARGET}): "
        "protoc-gen-execrpc is not installed with the execrpc package; "
        "install execrpc (`cmake --install BUILD`), set "
        "EXECRPC_PROTOC_GEN_EXECRPC to the plugin, or pass PLUGIN OFF for "
        "messages without service code")
    endif()
  endif()

  # import dirs, absolute
  set(imports "")
  foreach(d ${arg_IMPORT_DIRS})
    get_filename_component(d "${d}" ABSOLUTE)
    list(APPEND imports "${d}")
  endforeach()
  set(default_imports "")

  # each proto: absolute path, name under its import dir
  set(protos "")
  set(names "")
  foreach(p ${arg_PROTOS})
    get_filename_component(p "${p}" ABSOLUTE)
    if(NOT EXISTS "${p}")
      message(FATAL_ERROR "execrpc_generate(TARGET ${arg_TARGET}): ${p}: "
        "no such file")
    endif()
    set(name "")
    if(imports)
      foreach(d ${imports})
        file(RELATIVE_PATH rel "${d}" "${p}")
        if(NOT rel MATCHES "^\\.\\./" AND NOT IS_ABSOLUTE "${rel}")
          set(name "${rel}")
          break()
        endif()
      endforeach()
      if(name STREQUAL "")
        message(FATAL_ERROR "execrpc_generate(TARGET ${arg_TARGET}): ${p} "
          "is under none of IMPORT_DIRS (${imports})")
      endif()
    else()
      get_filename_component(d "${p}" DIRECTORY)
      get_filename_component(name "${p}" NAME)
      list(APPEND default_imports "${d}")
    endif()
    if(NOT name MATCHES "\\.proto$")
      message(FATAL_ERROR "execrpc_generate(TARGET ${arg_TARGET}): ${p}: "
        "not a .proto file")
    endif()
    list(APPEND protos "${p}")
    list(APPEND names "${name}")
  endforeach()
  if(NOT imports)
    list(REMOVE_DUPLICATES default_imports)
    set(imports ${default_imports})
  endif()

  # OPTIONS_FILES: staged as <dir of NAME>/<base>.options, searched first
  set(stage "${out}/.execrpc_options")
  set(option_paths "")
  set(option_deps "")
  if(arg_OPTIONS_FILES)
    list(APPEND option_paths "${stage}")
  endif()
  foreach(f ${arg_OPTIONS_FILES})
    get_filename_component(f "${f}" ABSOLUTE)
    get_filename_component(fbase "${f}" NAME_WLE)
    set(matched 0)
    foreach(name ${names})
      get_filename_component(pbase "${name}" NAME_WLE)
      if(pbase STREQUAL fbase)
        string(REGEX REPLACE "\\.proto$" ".options" oname "${name}")
        configure_file("${f}" "${stage}/${oname}" COPYONLY)
        list(APPEND option_deps "${stage}/${oname}")
        set(matched 1)
      endif()
    endforeach()
    if(NOT matched)
      message(FATAL_ERROR "execrpc_generate(TARGET ${arg_TARGET}): "
        "OPTIONS_FILES ${f}: no ${fbase}.proto in PROTOS")
    endif()
  endforeach()
  # a file staged by an earlier configure that is no longer listed goes
  file(GLOB_RECURSE staged "${stage}/*")
  foreach(f ${staged})
    if(NOT f IN_LIST option_deps)
      file(REMOVE "${f}")
    endif()
  endforeach()
  list(APPEND option_paths ${imports})
  # the .options next to each proto, when there is one
  foreach(name ${names})
    string(REGEX REPLACE "\\.proto$" ".options" oname "${name}")
    foreach(d ${imports})
      if(EXISTS "${d}/${oname}")
        list(APPEND option_deps "${d}/${oname}")
        break()
      endif()
    endforeach()
  endforeach()
  foreach(d ${option_paths})
    if(d MATCHES ",")
      message(FATAL_ERROR "execrpc_generate(TARGET ${arg_TARGET}): ${d}: a "
        "directory with a ',' cannot be passed to the protoc plugins")
    endif()
  endforeach()

  # outputs
  set(outputs "")
  set(sources "")
  list(LENGTH names n)
  math(EXPR last "${n} - 1")
  foreach(i RANGE ${last})
    list(GET names ${i} name)
    list(GET protos ${i} p)
    string(REGEX REPLACE "\\.proto$" "" base "${name}")
    set(exts "")
    if(server)
      list(APPEND exts .pb-c)
    endif()
    if(client)
      list(APPEND exts .pb)
    endif()
    if(arg_PLUGIN)
      _execrpc_proto_has_methods("${p}" has)
      set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${p}")
      if(has AND server)
        list(APPEND exts .xr)
      endif()
      if(has AND client)
        list(APPEND exts .xrc)
      endif()
    endif()
    foreach(e ${exts})
      list(APPEND outputs "${out}/${base}${e}.c" "${out}/${base}${e}.h")
      list(APPEND sources "${out}/${base}${e}.c")
    endforeach()
  endforeach()

  # one protoc run
  set(cmd "${EXECRPC_PROTOC}")
  foreach(d ${imports})
    list(APPEND cmd "-I${d}")
  endforeach()
  list(APPEND cmd "-I${EXECRPC_NANOPB_PROTO_DIR}")
  if(server)
    list(APPEND cmd "--plugin=protoc-gen-c=${EXECRPC_PROTOC_GEN_C}"
      "--c_out=${out}")
  endif()
  if(client)
    list(APPEND cmd "--plugin=protoc-gen-nanopb=${EXECRPC_PROTOC_GEN_NANOPB}")
    foreach(d ${option_paths})
      list(APPEND cmd "--nanopb_opt=-I${d}")
    endforeach()
    list(APPEND cmd "--nanopb_out=${out}")
  endif()
  if(arg_PLUGIN)
    set(opt "side=${arg_SIDE}")
    foreach(d ${option_paths})
      string(APPEND opt ",options_path=${d}")
    endforeach()
    list(APPEND cmd "--plugin=protoc-gen-execrpc=${plugin}"
      "--execrpc_opt=${opt}" "--execrpc_out=${out}")
  endif()
  list(APPEND cmd ${protos})

  file(MAKE_DIRECTORY "${out}")
  add_custom_command(OUTPUT ${outputs}
    COMMAND ${cmd}
    DEPENDS ${protos} ${option_deps} ${plugin_dep}
    WORKING_DIRECTORY "${out}"
    COMMENT "execrpc_generate(${arg_TARGET}): ${names}"
    VERBATIM)
  target_sources(${arg_TARGET} PRIVATE ${outputs})
  target_include_directories(${arg_TARGET} PUBLIC "$<BUILD_INTERFACE:${out}>")
endfunction()
