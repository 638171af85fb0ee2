package vmm.testing;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolutionException;
import org.junit.jupiter.api.extension.ParameterResolver;

/**
 * JUnit 5 extension that hands each test method a fresh {@link TestMachine}
 * parameter and closes it afterwards, so a device test is:
 *
 * <pre>{@code
 * @ExtendWith(TestMachineExtension.class)
 * class MyDeviceTest {
 *     @Test void echoes(TestMachine m) { ... }
 * }
 * }</pre>
 *
 * Annotate the parameter with {@link Memory} to choose the RAM size.
 */
public final class TestMachineExtension implements ParameterResolver, AfterEachCallback {
    private static final ExtensionContext.Namespace NS = ExtensionContext.Namespace.create(TestMachineExtension.class);

    /** RAM of the injected machine, in MiB. */
    @Retention(RetentionPolicy.RUNTIME)
    @Target(ElementType.PARAMETER)
    public @interface Memory {
        int mib();
    }

    @Override
    public boolean supportsParameter(ParameterContext p, ExtensionContext e) {
        return p.getParameter().getType() == TestMachine.class;
    }

    @Override
    public Object resolveParameter(ParameterContext p, ExtensionContext e) throws ParameterResolutionException {
        long bytes = p.findAnnotation(Memory.class).map(m -> (long) m.mib() << 20).orElse(TestMachine.DEFAULT_MEMORY);
        TestMachine m = TestMachine.create(bytes);
        e.getStore(NS).put(p.getIndex(), m);
        return m;
    }

    @Override
    public void afterEach(ExtensionContext e) {
        for (int i = 0; i < 16; i++) {
            TestMachine m = e.getStore(NS).remove(i, TestMachine.class);
            if (m != null) m.close();
        }
    }
}
