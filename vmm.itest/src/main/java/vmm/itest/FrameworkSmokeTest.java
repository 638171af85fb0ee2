package vmm.itest;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import java.util.Dictionary;
import java.util.Hashtable;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.Constants;
import org.osgi.framework.FrameworkUtil;
import org.osgi.service.cm.Configuration;
import org.osgi.service.cm.ConfigurationAdmin;
import org.osgi.service.component.runtime.ServiceComponentRuntime;
import org.osgi.test.assertj.bundle.BundleAssert;
import org.osgi.test.common.annotation.InjectBundleContext;
import org.osgi.test.common.annotation.InjectService;
import org.osgi.test.common.annotation.Property;
import org.osgi.test.common.annotation.config.InjectConfiguration;
import org.osgi.test.common.annotation.config.WithFactoryConfiguration;

/**
 * Proves the in-framework test plumbing: a real Felix with SCR and
 * ConfigAdmin, vmm.core started, OSGi Test injection working.
 */
class FrameworkSmokeTest {
    static final String FACTORY_PID = "vmm.itest.smoke";

    @InjectBundleContext
    BundleContext context;

    @Test
    void theFrameworkIsFelix() {
        Bundle system = context.getBundle(Constants.SYSTEM_BUNDLE_LOCATION);
        BundleAssert.assertThat(system).hasSymbolicName("org.apache.felix.framework").isInState(Bundle.ACTIVE);
        assertThat(system.getVersion().toString()).startsWith("7.0.5");
        assertThat(context.getProperty(Constants.FRAMEWORK_VENDOR)).isEqualTo("Apache Software Foundation");
    }

    @ParameterizedTest
    @ValueSource(strings = {"vmm.core", "org.apache.felix.scr", "org.apache.felix.configadmin", "vmm.itest"})
    void bundleIsActive(String symbolicName) {
        Bundle bundle = Arrays.stream(context.getBundles())
                .filter(b -> symbolicName.equals(b.getSymbolicName()))
                .findFirst()
                .orElseThrow(() -> new AssertionError(symbolicName + " is not installed"));
        BundleAssert.assertThat(bundle).isInState(Bundle.ACTIVE);
    }

    @Test
    void theJvmIsJava25WithNativeAccess() {
        assertThat(Runtime.version().feature()).isGreaterThanOrEqualTo(25);
        // -runvm --enable-native-access=ALL-UNNAMED reached the framework JVM:
        // bundle classes live in unnamed modules.
        assertThat(getClass().getModule().isNamed()).isFalse();
        assertThat(getClass().getModule().isNativeAccessEnabled()).isTrue();
    }

    @Test
    void configurationAdminIsInjectable(@InjectService ConfigurationAdmin cm) {
        assertThat(cm).isNotNull();
        assertThat(FrameworkUtil.getBundle(cm.getClass()).getSymbolicName())
                .isEqualTo("org.apache.felix.configadmin");
    }

    @Test
    void serviceComponentRuntimeIsInjectable(@InjectService ServiceComponentRuntime scr) {
        assertThat(FrameworkUtil.getBundle(scr.getClass()).getSymbolicName()).isEqualTo("org.apache.felix.scr");
        assertThat(scr.getComponentDescriptionDTOs()).isNotNull();
    }

    @Test
    void aFactoryConfigurationCanBeCreated(@InjectService ConfigurationAdmin cm) throws Exception {
        Configuration created = cm.getFactoryConfiguration(FACTORY_PID, "created", "?");
        try {
            Dictionary<String, Object> props = new Hashtable<>();
            props.put("answer", 42);
            created.update(props);

            assertThat(created.getPid()).isEqualTo(FACTORY_PID + "~created");
            assertThat(created.getFactoryPid()).isEqualTo(FACTORY_PID);
            Configuration[] listed = cm.listConfigurations("(service.factoryPid=" + FACTORY_PID + ")");
            assertThat(listed).extracting(Configuration::getPid).contains(FACTORY_PID + "~created");
            assertThat(created.getProperties().get("answer")).isEqualTo(42);
        } finally {
            created.delete();
        }
        assertThat(cm.listConfigurations("(service.pid=" + FACTORY_PID + "~created)")).isNull();
    }

    @Test
    void aFactoryConfigurationCanBeInjected(
            @InjectConfiguration(withFactoryConfig = @WithFactoryConfiguration(
                    factoryPid = FACTORY_PID, name = "injected", location = "?",
                    properties = @Property(key = "answer", value = "42")))
            Configuration injected) {
        assertThat(injected.getFactoryPid()).isEqualTo(FACTORY_PID);
        assertThat(injected.getPid()).isEqualTo(FACTORY_PID + "~injected");
        assertThat(injected.getProperties().get("answer")).isEqualTo("42");
    }
}
