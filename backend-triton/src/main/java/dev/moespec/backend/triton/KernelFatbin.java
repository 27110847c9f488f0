package dev.moespec.backend.triton;

/**
 * The fatbin the build compiles this module's {@code src/main/cuda} into. Looked up as a plain class-path
 * resource rather than through the cuda module, so that eligibility stays a pure function of the jar's
 * contents and can be decided (and tested) without a GPU or a driver.
 */
record KernelFatbin(String artifactId) {

    String resourcePath() {
        return "META-INF/moespec/kernels/" + artifactId + ".fatbin";
    }

    boolean presentIn(ClassLoader loader) {
        return loader.getResource(resourcePath()) != null;
    }
}
