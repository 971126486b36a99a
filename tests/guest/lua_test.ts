/**
 * The quick part of Lua's test suite under xip and qemu-riscv32 (see
 * _lua_suite.ts; `deno task test:lua` runs every passing file).
 */
import { defineLuaSuite, LUA_QUICK } from "./_lua_suite.ts";

await defineLuaSuite(LUA_QUICK, "quick");
