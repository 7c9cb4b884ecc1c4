# og_add_connector(NAME SOURCES ...): build one connector plugin as its own
# shared object in lib/omnigate/connectors/, install it there, and expose only
# the entry symbol. A switch OG_CONNECTOR_<NAME> (ON by default) turns it off.
function(og_add_connector name)
  cmake_parse_arguments(A "" "" "SOURCES;LIBS" ${ARGN})
  add_library(og_conn_${name} MODULE ${A_SOURCES})
  set_target_properties(og_conn_${name} PROPERTIES
    OUTPUT_NAME ${name} PREFIX ""
    LIBRARY_OUTPUT_DIRECTORY ${OG_CONNECTOR_OUTPUT_DIR}
    C_VISIBILITY_PRESET hidden)
  target_include_directories(og_conn_${name} PRIVATE ${PROJECT_SOURCE_DIR}/connectors/include
                             ${CMAKE_CURRENT_SOURCE_DIR})
  if(A_LIBS)
    target_link_libraries(og_conn_${name} PRIVATE ${A_LIBS})
  endif()
  install(TARGETS og_conn_${name} LIBRARY DESTINATION ${OG_CONNECTOR_RELDIR})
endfunction()

# og_embed_text(OUT_C SYMBOL FILE): turn a text file into a C string constant.
function(og_embed_text out_c symbol file)
  add_custom_command(OUTPUT ${out_c}
    COMMAND ${CMAKE_COMMAND} -DIN=${file} -DOUT=${out_c} -DSYM=${symbol}
            -P ${PROJECT_SOURCE_DIR}/cmake/embed.cmake
    DEPENDS ${file} ${PROJECT_SOURCE_DIR}/cmake/embed.cmake VERBATIM)
endfunction()
