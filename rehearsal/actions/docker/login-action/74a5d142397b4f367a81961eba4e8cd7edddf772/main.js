// Rehearsal stand-in for docker/login-action@74a5d142397b4f367a81961eba4e8cd7edddf772 (v3.4.0); see rehearsal/actions/README.md.
// Runs `python3 -m rehearsal.standins docker.login main` with the INPUT_* environment act gives a JavaScript action.
const { spawnSync } = require("child_process");
const home = process.env.REHEARSAL_HOME;
if (!home) {
  console.log("::error::REHEARSAL_HOME is not set: pass --env REHEARSAL_HOME=<project root> to act (the rehearsal harness does)");
  process.exit(1);
}
const run = spawnSync("python3", ["-m", "rehearsal.standins", "docker.login", "main", __dirname], {
  stdio: "inherit",
  env: { ...process.env, PYTHONPATH: home },
});
if (run.error) console.log(`::error::python3 did not start: ${run.error.message}`);
process.exit(run.status ?? 1);
