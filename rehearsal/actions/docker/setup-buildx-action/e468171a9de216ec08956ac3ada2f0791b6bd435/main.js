// Rehearsal stand-in for docker/setup-buildx-action@e468171a9de216ec08956ac3ada2f0791b6bd435 (v3.11.1); see rehearsal/actions/README.md.
// Runs `python3 -m rehearsal.standins docker.setup_buildx main` with the INPUT_* environment act gives a JavaScript action.
const { spawnSync } = require("child_process");
const home = process.env.REHEARSAL_HOME;
if (!home) {
  console.log("::error::REHEARSAL_HOME is not set: pass --env REHEARSAL_HOME=<project root> to act (the rehearsal harness does)");
  process.exit(1);
}
const run = spawnSync("python3", ["-m", "rehearsal.standins", "docker.setup_buildx", "main", __dirname], {
  stdio: "inherit",
  env: { ...process.env, PYTHONPATH: home },
});
if (run.error) console.log(`::error::python3 did not start: ${run.error.message}`);
process.exit(run.status ?? 1);
