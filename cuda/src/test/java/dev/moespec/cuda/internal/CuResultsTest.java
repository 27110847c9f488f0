package dev.moespec.cuda.internal;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static org.junit.jupiter.api.Assertions.assertEquals;

class CuResultsTest {

    @ParameterizedTest
    @CsvSource({
            "0, CUDA_SUCCESS",
            "1, CUDA_ERROR_INVALID_VALUE",
            "2, CUDA_ERROR_OUT_OF_MEMORY",
            "100, CUDA_ERROR_NO_DEVICE",
            "209, CUDA_ERROR_NO_BINARY_FOR_GPU",
            "500, CUDA_ERROR_NOT_FOUND",
            "700, CUDA_ERROR_ILLEGAL_ADDRESS",
            "4242, CUresult(4242)"})
    void namesCommonCodesAndMarksUnknownOnes(int code, String name) {
        assertEquals(name, CuResults.fallbackName(code));
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "2|out of memory",
            "100|no CUDA-capable device is detected",
            "4242|no description available (code not known to moespec and the driver could not describe it)"})
    void describesCodes(int code, String description) {
        assertEquals(description, CuResults.fallbackDescription(code));
    }
}
