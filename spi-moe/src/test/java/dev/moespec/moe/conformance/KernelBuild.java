package dev.moespec.moe.conformance;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Whether this build could compile CUDA: nvcc looked up the way {@code build/cuda/fatbin.sh} does (PATH,
 * then $CUDA_HOME/bin, then /usr/local/cuda/bin), unless -Dmoespec.skipKernels. Lets the kernel-resource
 * tests of a backend jar demand the fatbin where nvcc exists and NO_KERNELS where it does not.
 */
public final class KernelBuild {
    private KernelBuild() {}

    public static boolean nvccWasAvailable() {
        if ("true".equals(System.getProperty("moespec.skipKernels"))) return false;
        List<Path> candidates = new ArrayList<>();
        String nvcc = System.getProperty("moespec.nvcc", "nvcc");
        if (nvcc.contains(File.separator)) {
            candidates.add(Path.of(nvcc));
        } else {
            for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
                if (!dir.isEmpty()) candidates.add(Path.of(dir, nvcc));
            }
        }
        candidates.add(Path.of(System.getenv().getOrDefault("CUDA_HOME", "/usr/local/cuda"), "bin", "nvcc"));
        candidates.add(Path.of("/usr/local/cuda/bin/nvcc"));
        return candidates.stream().anyMatch(Files::isExecutable);
    }
}
