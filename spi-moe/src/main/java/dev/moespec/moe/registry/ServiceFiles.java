package dev.moespec.moe.registry;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads {@code META-INF/services} files directly, to say which jar lists a class. ServiceLoader's own errors
 * name the class but not the jar, and it silently loads a class listed by two jars only once.
 */
final class ServiceFiles {
    private ServiceFiles() {}

    /** Every class name listed for {@code service}, with the locations (jar or directory) that list it. */
    static Map<String, List<String>> listings(ClassLoader loader, Class<?> service) {
        Map<String, List<String>> listings = new LinkedHashMap<>();
        try {
            for (URL url : Collections.list(loader.getResources("META-INF/services/" + service.getName()))) {
                for (String className : read(url)) {
                    listings.computeIfAbsent(className, k -> new ArrayList<>()).add(location(url));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read META-INF/services/" + service.getName(), e);
        }
        return listings;
    }

    /** Listed classes the loader cannot find, each with the location listing it: the entries a user must fix. */
    static List<String> unloadable(ClassLoader loader, Class<?> service) {
        List<String> broken = new ArrayList<>();
        listings(loader, service).forEach((className, where) -> {
            try {
                Class.forName(className, false, loader);
            } catch (ClassNotFoundException | LinkageError e) {
                broken.add(className + " (listed by " + String.join(", ", where) + ")");
            }
        });
        return broken;
    }

    private static List<String> read(URL url) throws IOException {
        List<String> names = new ArrayList<>();
        try (var reader = new BufferedReader(new InputStreamReader(url.openStream(), StandardCharsets.UTF_8))) {
            for (String line; (line = reader.readLine()) != null; ) {
                int hash = line.indexOf('#');
                String name = (hash >= 0 ? line.substring(0, hash) : line).strip();
                if (!name.isEmpty()) names.add(name);
            }
        }
        return names;
    }

    /** {@code jar:file:/x/a.jar!/META-INF/...} → {@code /x/a.jar}; {@code file:/d/META-INF/...} → {@code /d}. */
    static String location(URL url) {
        String s = url.toString();
        int bang = s.indexOf("!/");
        if (s.startsWith("jar:") && bang > 0) s = s.substring(4, bang);
        else if (s.contains("/META-INF/services/")) s = s.substring(0, s.indexOf("/META-INF/services/"));
        if (!s.startsWith("file:")) return s;
        try {
            return java.nio.file.Path.of(java.net.URI.create(s)).toString();
        } catch (IllegalArgumentException e) {
            return s;
        }
    }
}
