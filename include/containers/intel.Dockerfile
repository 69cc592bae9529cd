# intel: oneAPI. HPL is the Intel Distribution for LINPACK Benchmark that oneMKL ships (the
# vendor-optimised HPL, prebuilt against oneMKL and Intel MPI); STREAM is compiled with icx in the
# build stage, plain and with streaming stores, for x86-64-v3 tuned for Sapphire Rapids, and the
# runner measures both on the instance. The runtime image carries only oneAPI's runtime libraries.
ARG BUILD_IMAGE=intel/oneapi-hpckit
ARG BUILD_DIGEST
ARG RUNTIME_IMAGE=intel/oneapi-runtime
ARG RUNTIME_DIGEST

FROM ${BUILD_IMAGE}@${BUILD_DIGEST} AS build
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
COPY runner/src/stream.c /src/stream.c
ARG STREAM_FLAGS="-O3 -qopenmp -march=x86-64-v3 -mtune=sapphirerapids"
WORKDIR /opt/benchrun-bin
RUN . /opt/intel/oneapi/setvars.sh >/dev/null \
    && icx ${STREAM_FLAGS} -o stream /src/stream.c \
    && icx ${STREAM_FLAGS} -DSTREAM_NONTEMPORAL -o stream-nontemporal /src/stream.c \
    && xhpl="$(find "${MKLROOT}" -name xhpl_intel64_dynamic -path '*mp_linpack*' | head -n 1)" \
    && test -n "${xhpl}" && cp "${xhpl}" xhpl \
    && version="$(icx --version | head -n 1)" \
    && printf '{"regular": {"path": "%s", "cflags": "%s", "compiler": "%s"},\n "nontemporal": {"path": "%s", "cflags": "%s -DSTREAM_NONTEMPORAL", "compiler": "%s"}}\n' \
       /opt/benchrun-bin/stream "${STREAM_FLAGS}" "${version}" \
       /opt/benchrun-bin/stream-nontemporal "${STREAM_FLAGS}" "${version}" > stream-manifest.json

FROM ${RUNTIME_IMAGE}@${RUNTIME_DIGEST}
ARG RUNNER_VERSION=unknown
LABEL org.opencontainers.image.title="instance-benchmarks runner (intel)" \
      io.instance-benchmarks.variant="intel" \
      io.instance-benchmarks.compiler="icx (oneAPI), -march=x86-64-v3 -mtune=sapphirerapids" \
      io.instance-benchmarks.blas="oneMKL" \
      io.instance-benchmarks.hpl="Intel Distribution for LINPACK Benchmark (oneMKL, Intel MPI)" \
      io.instance-benchmarks.runner-version="${RUNNER_VERSION}"
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# Versions come from the pinned runtime image's Ubuntu release.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 numactl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 bench
COPY --from=build /opt/benchrun-bin /opt/benchrun-bin
COPY runner/ /opt/benchrun/
ENV BENCHRUN_XHPL=/opt/benchrun-bin/xhpl \
    BENCHRUN_STREAM_MANIFEST=/opt/benchrun-bin/stream-manifest.json \
    BENCHRUN_BUILD_DIR=/home/bench/.cache/benchrun \
    PATH=/opt/benchrun:$PATH
USER 10001
WORKDIR /home/bench
# numactl --membind needs CAP_SYS_NICE under Docker's default seccomp profile (--cap-add SYS_NICE).
ENTRYPOINT ["benchrun"]
CMD ["all", "--profile", "quick"]
