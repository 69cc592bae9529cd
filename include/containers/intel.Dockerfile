# intel: oneMKL 2026 and Intel MPI 2021 from PyPI (pinned by hash in intel/requirements.txt, installed
# offline from the wheels the image driver puts in the build context), GCC (Debian 13).
# HPL is built from Debian's hpcc source with Intel MPI's mpicc against MKL's single dynamic library
# (libmkl_rt, GNU OpenMP threading layer). No package these registries serve ships Intel's own
# LINPACK binary (the mkl wheels carry only libraries), so HPL is the same source as the other images
# and the BLAS is what differs. MKL picks its code path at run time (libmkl_def, _avx2, _avx512...):
# the document records which one it loaded, and the report flags a generic one.
# STREAM is compiled with gcc on the instance at first use, as in the other images.
# Build with the driver (python -m instance_benchmarks.images), which pins BASE_DIGEST.
ARG BASE_IMAGE=debian:trixie-slim
ARG BASE_DIGEST

FROM ${BASE_IMAGE}@${BASE_DIGEST} AS build
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# Versions come from the pinned base image's Debian release.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev make python3 python3-venv ca-certificates dpkg-dev \
    && rm -rf /var/lib/apt/lists/*
COPY intel/ /tmp/intel/
# By hash, and offline when the wheels came with the context (the image driver puts them there; an
# on-instance build from the bundled context fetches them from PyPI). Data files land in /opt/intel/{lib,bin,...}.
RUN offline=(); if compgen -G '/tmp/intel/wheels/*.whl' >/dev/null; then offline=(--no-index --find-links /tmp/intel/wheels); fi \
    && python3 -m venv /opt/intel \
    && /opt/intel/bin/pip install --quiet --no-deps --require-hashes "${offline[@]}" -r /tmp/intel/requirements.txt \
    && rm -rf /opt/intel/lib/{cmake,pkgconfig,python3*} /opt/intel/lib/libmkl_*{scalapack,blacs,cdft,ilp64}* \
       /opt/intel/lib/libmkl_{tbb_thread,intel_thread,sequential,vml_}* /opt/intel/lib/libmpi{java,_ilp64}* \
    && for lib in libmkl_rt libmkl_core libmkl_intel_lp64 libmkl_gnu_thread; do \
         ln -sf "${lib}.so.3" "/opt/intel/lib/${lib}.so"; done
# Only what HPL's build reads (build.py and what it imports, the driver's C wrapper): a change to the rest of
# the runner (its Python, profiles) does not recompile HPL; the final stage copies the whole runner.
COPY runner/benchmark_runner/__init__.py runner/benchmark_runner/_log.py runner/benchmark_runner/blas.py \
     runner/benchmark_runner/build.py /opt/benchrun/benchmark_runner/
COPY runner/src/hpl_main.c /opt/benchrun/src/
ARG HPL_ARCH_FLAGS="-march=x86-64-v3"
ENV I_MPI_ROOT=/opt/intel PATH=/opt/intel/bin:$PATH
RUN BENCHRUN_BUILD_DIR=/opt/build BENCHRUN_ARCH_FLAGS="${HPL_ARCH_FLAGS}" \
    BENCHRUN_BLAS_LIBS="-L/opt/intel/lib -Wl,-rpath,/opt/intel/lib -lmkl_rt" MKL_THREADING_LAYER=GNU \
    python3 -c "\
import sys, shutil; sys.path.insert(0, '/opt/benchrun'); \
from benchmark_runner.build import build_xhpl_from_source as build; built = build(); \
shutil.copy(built['path'], '/opt/xhpl'); print(built)"

FROM ${BASE_IMAGE}@${BASE_DIGEST}
ARG RUNNER_VERSION=unknown
ARG HPL_ARCH_FLAGS="-march=x86-64-v3"
LABEL org.opencontainers.image.title="instance-benchmarks runner (intel)" \
      io.instance-benchmarks.variant="intel" \
      io.instance-benchmarks.compiler="gcc (Debian 13 trixie)" \
      io.instance-benchmarks.blas="oneMKL 2026.2 (PyPI mkl, libmkl_rt, GNU OpenMP threading)" \
      io.instance-benchmarks.mpi="Intel MPI 2021.19 (PyPI impi-rt)" \
      io.instance-benchmarks.hpl="HPL 2.0 from Debian hpcc_1.5.0 source, ${HPL_ARCH_FLAGS}" \
      io.instance-benchmarks.runner-version="${RUNNER_VERSION}"
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# gcc stays: STREAM is compiled on the instance it measures. Versions come from the pinned base.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 gcc libc6-dev libgomp1 numactl hostname \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 bench
COPY --from=build /opt/intel/lib /opt/intel/lib
COPY --from=build /opt/intel/bin/mpirun /opt/intel/bin/mpiexec /opt/intel/bin/mpiexec.hydra \
     /opt/intel/bin/hydra_pmi_proxy /opt/intel/bin/hydra_bstrap_proxy /opt/intel/bin/
COPY --from=build /opt/intel/opt /opt/intel/opt
COPY --from=build /opt/intel/etc /opt/intel/etc
COPY --from=build /opt/xhpl /opt/benchrun-bin/xhpl
COPY runner/ /opt/benchrun/
# One host, shared memory only: Intel MPI needs no libfabric provider for that.
ENV I_MPI_ROOT=/opt/intel \
    I_MPI_FABRICS=shm \
    MKL_THREADING_LAYER=GNU \
    BENCHRUN_XHPL=/opt/benchrun-bin/xhpl \
    BENCHRUN_BUILD_DIR=/home/bench/.cache/benchrun \
    PATH=/opt/benchrun:/opt/intel/bin:$PATH
USER 10001
WORKDIR /home/bench
# numactl --membind needs CAP_SYS_NICE under Docker's default seccomp profile (--cap-add SYS_NICE).
ENTRYPOINT ["benchrun"]
CMD ["all", "--profile", "quick"]
