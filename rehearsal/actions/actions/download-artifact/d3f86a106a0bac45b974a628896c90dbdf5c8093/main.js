// Rehearsal stand-in for actions/download-artifact@d3f86a106a0bac45b974a628896c90dbdf5c8093 (v4.3.0); see rehearsal/actions/README.md.
// Runs `python3 -m rehearsal.standins artifacts.download main` with the INPUT_* environment act gives a JavaScript action.
const { spawnSync } = require("child_process");
const home = process.env.REHEARSAL_HOME;
if (!home) {
  console.log("::error::REHEARSAL_HOME is not set: pass --env REHEARSAL_HOME=<project root> to act (the rehearsal harness does)");
  process.exit(1);
}
const run = spawnSync("python3", ["-m", "rehearsal.standins", "artifacts.download", "main", __dirname], {
  stdio: "inherit",
  env: { ...process.env, PYTHONPATH: home },
});
if (run.error) console.log(`::error::python3 did not start: ${run.error.message}`);
process.exit(run.status ?? 1);
