package dev.moespec.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.datatype.jdk8.Jdk8Module;
import dev.moespec.engine.plan.Plan;

/** The machine form of a {@link Plan}: snake_case JSON, absent optionals omitted. */
final class PlanJson {
    private static final ObjectMapper MAPPER = new ObjectMapper()
            .registerModule(new Jdk8Module())
            .setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
            .setSerializationInclusion(com.fasterxml.jackson.annotation.JsonInclude.Include.NON_ABSENT)
            .enable(SerializationFeature.INDENT_OUTPUT);

    private PlanJson() {}

    static String write(Plan plan) throws JsonProcessingException {
        return MAPPER.writeValueAsString(plan);
    }

    static ObjectMapper mapper() {
        return MAPPER;
    }
}
