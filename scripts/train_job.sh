#!/bin/sh
# The training job (entrypoint of Dockerfile.train): check out GIT_REF of GIT_REPO, restore the
# data partitions (DVC remote at DVC_REMOTE_URL, else the embedded source), `dvc repro`, report
# whether dvc.lock matches the committed one, and with DVC_PUSH=1 push the outputs to the remote.
# MLflow: MLFLOW_TRACKING_URI. With `train.engine: dask` the ref's params.yaml names the scheduler.
set -eu
: "${GIT_REPO:?set GIT_REPO to the repository URL (ConfigMap flightdelay-train-settings)}"
: "${GIT_REF:?set GIT_REF to the branch, tag or commit to train (ConfigMap flightdelay-train-settings)}"
repo="${WORK_DIR:-/work}/repo"

echo "train-job: $GIT_REPO at $GIT_REF"
git init -q "$repo"
cd "$repo"
git remote add origin "$GIT_REPO"
git fetch -q --depth 1 origin "$GIT_REF"
git -c advice.detachedHead=false checkout -q FETCH_HEAD
echo "train-job: checked out $(git rev-parse HEAD)"

# The image's environment must be the one this ref pins, or the model would be trained by other
# library versions than the ref's CI trained it with.
if ! cmp -s requirements.txt "${IMAGE_REQUIREMENTS:-/opt/flightdelay/requirements.txt}"; then
    echo "train-job: $GIT_REF pins other requirements than this image was built with;" \
        "build the training image (Dockerfile.train) from $GIT_REF and run the job with it" >&2
    exit 2
fi

export PYTHONPATH="$repo/src"  # the ref's code, not the image's copy
# The Dask workers import the image's flightdelay, not this checkout: with train.engine: dask the
# two must be the same code, or the workers would encode features another way than the ref does.
engine=$("${PYTHON:-python}" -c 'from flightdelay.core.params import load_params; print(load_params().train.engine)')
if [ "$engine" = "dask" ] && ! diff -rq -x __pycache__ src "${IMAGE_SRC:-/opt/flightdelay/src}" >/dev/null; then
    echo "train-job: train.engine is dask and the code of $GIT_REF differs from this image's, which" \
        "the Dask workers run; build the training image (Dockerfile.train) from $GIT_REF" >&2
    exit 2
fi
flightdelay data restore --no-push
dvc repro
flightdelay lock check || echo "train-job: dvc.lock above is what this run built; commit it on a branch"
if [ "${DVC_PUSH:-0}" = "1" ]; then
    dvc push --run-cache  # outputs and the run cache: a checkout of the ref pulls them instead of retraining
fi
echo "train-job: done"
