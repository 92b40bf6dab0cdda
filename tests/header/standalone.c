/* Includes nothing but infer.h: tests/header.rs compiles this file as C11 and as C++17 with
 * -Wall -Wextra -Werror -pedantic, proving the header is self-contained and warning-free. */
#include "infer.h"

/* Use a type, a macro and a function so the header's declarations are actually exercised. */
uint32_t header_abi_version(void);
uint32_t header_abi_version(void) {
    rt_memory_stats stats = {0, 0, 0, {0, 0, 0, 0, 0}};
    (void)stats;
    uint32_t (*abi)(void) = rt_abi_version;
    return abi() == RT_ABI_VERSION ? RT_OK : RT_ERR_INTERNAL;
}
