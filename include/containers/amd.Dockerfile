# amd: GCC, BLIS 1.1 (Debian 13, OpenMP; a fat library that picks its kernels at run time and the
# document records which), OpenMPI. HPL is built from Debian's hpcc source against BLIS.
# BLIS's x86 kernels stop at zen3 and skx (AVX2, AVX-512): neither Debian 13's 1.1 nor sid's 2.1 has
# Zen 4 or Zen 5 kernels (those exist only in AMD's AOCL-BLIS, served from GitHub and AMD's site,
# which these build machines do not reach). On a Zen 4/5 host the runner records that BLIS chose
# AVX2 kernels on an AVX-512 CPU and the report flags the figure.
# Build with the driver (python -m instance_benchmarks.images), which pins BASE_DIGEST.
ARG BASE_IMAGE=debian:trixie-slim
ARG BASE_DIGEST

FROM ${BASE_IMAGE}@${BASE_DIGEST} AS build
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
COPY runner/debian-packages.txt /tmp/debian-packages.txt
# Versions come from the pinned base image's Debian release.
# hadolint ignore=DL3008
RUN apt-get update \
    && grep -v -E '^\s*(#|$)' /tmp/debian-packages.txt | grep -v -x -e libopenblas-dev -e hpcc \
       | xargs apt-get install -y --no-install-recommends python3 ca-certificates dpkg-dev libblis-openmp-dev \
    && rm -rf /var/lib/apt/lists/*
# Only what HPL's build reads (build.py and what it imports, the driver's C wrapper): a change to the rest of
# the runner (its Python, profiles) does not recompile HPL; the final stage copies the whole runner.
COPY runner/benchmark_runner/__init__.py runner/benchmark_runner/_log.py runner/benchmark_runner/blas.py \
     runner/benchmark_runner/build.py /opt/benchrun/benchmark_runner/
COPY runner/src/hpl_main.c /opt/benchrun/src/
ARG HPL_ARCH_FLAGS="-march=x86-64-v3"
RUN BENCHRUN_BUILD_DIR=/opt/build BENCHRUN_ARCH_FLAGS="${HPL_ARCH_FLAGS}" BENCHRUN_BLAS_LIBS="-lblis -fopenmp" \
    python3 -c "\
import sys, shutil; sys.path.insert(0, '/opt/benchrun'); \
from benchmark_runner.build import build_xhpl_from_source as build; built = build(); \
shutil.copy(built['path'], '/opt/xhpl'); print(built)"

FROM ${BASE_IMAGE}@${BASE_DIGEST}
ARG RUNNER_VERSION=unknown
ARG HPL_ARCH_FLAGS="-march=x86-64-v3"
LABEL org.opencontainers.image.title="instance-benchmarks runner (amd)" \
      io.instance-benchmarks.variant="amd" \
      io.instance-benchmarks.compiler="gcc (Debian 13 trixie)" \
      io.instance-benchmarks.blas="BLIS 1.1 (Debian 13, OpenMP, run-time kernel selection)" \
      io.instance-benchmarks.hpl="HPL 2.0 from Debian hpcc_1.5.0 source, ${HPL_ARCH_FLAGS}" \
      io.instance-benchmarks.runner-version="${RUNNER_VERSION}"
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
COPY runner/debian-packages.txt /tmp/debian-packages.txt
# gcc stays: STREAM is compiled on the instance it measures. Versions come from the pinned base.
# hadolint ignore=DL3008
RUN apt-get update \
    && grep -v -E '^\s*(#|$)' /tmp/debian-packages.txt | grep -v -x -e libopenblas-dev -e hpcc \
       | xargs apt-get install -y --no-install-recommends python3 libblis4-openmp \
    && rm -rf /var/lib/apt/lists/* /tmp/debian-packages.txt \
    && useradd --create-home --uid 10001 bench
COPY --from=build /opt/xhpl /opt/benchrun-bin/xhpl
COPY runner/ /opt/benchrun/
ENV BENCHRUN_XHPL=/opt/benchrun-bin/xhpl \
    BENCHRUN_BUILD_DIR=/home/bench/.cache/benchrun \
    PATH=/opt/benchrun:$PATH
USER 10001
WORKDIR /home/bench
# numactl --membind needs CAP_SYS_NICE under Docker's default seccomp profile (--cap-add SYS_NICE).
ENTRYPOINT ["benchrun"]
CMD ["all", "--profile", "quick"]
