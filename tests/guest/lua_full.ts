/**
 * Every file of Lua's test suite that passes under qemu-riscv32, under xip
 * in both DAX modes (`deno task test:lua`; minutes on the interpreter, so
 * `deno task test` runs the quick set of lua_test.ts instead).
 */
import { defineLuaSuite, LUA_PASSING } from "./_lua_suite.ts";

await defineLuaSuite(LUA_PASSING, "full");
