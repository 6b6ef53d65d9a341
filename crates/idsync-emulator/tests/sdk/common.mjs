// Shared by the SDK scripts: the emulator's address and keys from the
// environment, assertions, and the one JSON line each script prints.

export const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};

export function check(ok, message) {
  if (!ok) throw new Error(`check failed: ${message}`);
}

/** Fails unless `ids` has no duplicates. */
export function checkOnce(ids, what) {
  check(new Set(ids).size === ids.length, `${what} lists a user twice: ${ids}`);
}

/** Runs `main`, prints its result as JSON, and exits 1 on any error. */
export async function run(main) {
  try {
    const result = await main();
    process.stdout.write(JSON.stringify(result) + "\n");
  } catch (error) {
    console.error(error);
    process.exit(1);
  }
}
