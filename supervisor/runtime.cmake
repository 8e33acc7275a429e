# The runtime layer above server/, client/ and the supervisor: the transport
# service and the lifecycle (included from the top-level CMakeLists.txt).
add_library(xr_runtime STATIC
  ${PROJECT_SOURCE_DIR}/supervisor/transport.c
  ${PROJECT_SOURCE_DIR}/supervisor/lifecycle.c)
target_include_directories(xr_runtime PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/supervisor>)
target_compile_options(xr_runtime PRIVATE ${XR_WARNINGS})
target_link_libraries(xr_runtime PUBLIC xr_supervisor xr_server execrpc-client)
