# The web UI (webui/) embedded into mezzo-master at build time: every file
# becomes a byte array in <build>/gen/webui_assets.c (cmake/embed_webui.cmake),
# compiled into master_core and served by src/master/webui.c. The binary needs
# nothing on disk and no network to serve the UI.
file(GLOB_RECURSE MZ_WEBUI_FILES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/webui/*)
set(MZ_WEBUI_C ${MZ_GEN_DIR}/webui_assets.c)
add_custom_command(OUTPUT ${MZ_WEBUI_C}
  COMMAND ${CMAKE_COMMAND} -E make_directory ${MZ_GEN_DIR}
  COMMAND ${CMAKE_COMMAND} -DSRC_DIR=${CMAKE_SOURCE_DIR}/webui -DOUT=${MZ_WEBUI_C}
          -P ${CMAKE_SOURCE_DIR}/cmake/embed_webui.cmake
  DEPENDS ${MZ_WEBUI_FILES} ${CMAKE_SOURCE_DIR}/cmake/embed_webui.cmake
  COMMENT "embedding webui/ into mezzo-master")
target_sources(master_core PRIVATE ${MZ_WEBUI_C})
