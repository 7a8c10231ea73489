# BPF programs: clang's BPF target, CO-RE against the checked-in vmlinux.h, embedded into the
# agent through a bpftool-generated libbpf skeleton.
#
#   ringside_bpf_skeleton(<name> <source.bpf.c>)
#     builds <name>.bpf.o and <name>.skel.h under build/gen/bpf and defines the interface
#     target bpf_<name> that adds that directory to the include path.

find_program(BPF_CLANG NAMES clang-14 clang REQUIRED)
find_program(BPFTOOL NAMES bpftool PATHS /usr/sbin /sbin REQUIRED)
set(BPF_VMLINUX_DIR ${CMAKE_SOURCE_DIR}/src/sensors/kernel/bpf/vmlinux/x86_64)
set(BPF_OUT_DIR ${RINGSIDE_GEN_DIR}/bpf)
file(MAKE_DIRECTORY ${BPF_OUT_DIR})

function(ringside_bpf_skeleton name source)
  set(obj ${BPF_OUT_DIR}/${name}.bpf.o)
  set(skel ${BPF_OUT_DIR}/${name}.skel.h)
  file(GLOB bpf_headers ${CMAKE_SOURCE_DIR}/src/sensors/kernel/bpf/*.h)
  add_custom_command(
    OUTPUT ${obj}
    COMMAND ${BPF_CLANG} -g -O2 -target bpf -D__TARGET_ARCH_x86 -Wall -Werror
            -I${BPF_VMLINUX_DIR} -I${RINGSIDE_GEN_DIR} -I${CMAKE_SOURCE_DIR}/src/sensors/kernel/bpf
            -c ${source} -o ${obj}
    DEPENDS ${source} ${bpf_headers} ${RINGSIDE_GEN_DIR}/ringside/records.h
    COMMENT "BPF ${name}")
  add_custom_command(
    OUTPUT ${skel}
    COMMAND ${BPFTOOL} gen skeleton ${obj} name ${name} > ${skel}
    DEPENDS ${obj}
    COMMENT "BPF skeleton ${name}")
  add_custom_target(bpf_${name}_gen DEPENDS ${skel})
  add_library(bpf_${name} INTERFACE)
  add_dependencies(bpf_${name} bpf_${name}_gen)
  target_include_directories(bpf_${name} INTERFACE ${BPF_OUT_DIR})
endfunction()
