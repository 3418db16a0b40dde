#!/bin/sh
# Runs inside the image build (Dockerfile), with no network and every hash checked:
#   install-venv deps LOCK   the virtual environment /opt/e2e-energy with the lock LOCK (agent or
#                            attributor, copied from locks/ into the build context)
#   install-venv project     the project's wheel into /opt/e2e-energy/project, a layer of its own
#                            (a code change leaves the dependencies' layer as it was)
# pip runs from its own wheel, so the base needs no pip and the images carry none. The
# dependencies' own test suites are not shipped (numpy, scipy, pandas: about 130 MB).
set -eu
venv=/opt/e2e-energy
python3 -m venv --without-pip "$venv"
pip_wheel=$(ls /wheels/pip-*.whl)
pip() {
  "$venv/bin/python" "$pip_wheel/pip" install --no-index --no-deps --no-cache-dir \
    --disable-pip-version-check --quiet "$@"
}
case "$1" in
  deps)
    pip --require-hashes --find-links /wheels -r "/locks/$2.txt"
    find "$venv/lib" -depth -type d -name tests -path '*/site-packages/*' -exec rm -rf {} +
    site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')
    echo "$venv/project" > "$site/e2e-energy-project.pth"
    ;;
  project)
    pip --target "$venv/project" /project/e2e_energy_collector-*.whl
    ;;
  *)
    echo "usage: install-venv deps LOCK | install-venv project" >&2
    exit 2
    ;;
esac
