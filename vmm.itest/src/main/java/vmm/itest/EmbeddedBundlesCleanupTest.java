package vmm.itest;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.test.common.annotation.InjectBundleContext;

/**
 * What EmbeddedBundles' javadoc promises: a bundle installed through the
 * context OSGi Test injects is uninstalled when the test method ends, even
 * if the test forgets to.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class EmbeddedBundlesCleanupTest {
    @InjectBundleContext
    BundleContext context;

    @Test
    @Order(1)
    void installAndLeaveInstalled() throws Exception {
        Bundle bundle = EmbeddedBundles.install(context, EmbeddedBundlesTest.NAME);
        bundle.start();
        assertThat(context.getBundle(EmbeddedBundles.location(EmbeddedBundlesTest.NAME))).isSameAs(bundle);
    }

    @Test
    @Order(2)
    void itWasUninstalledAfterTheTest() {
        assertThat(context.getBundle(EmbeddedBundles.location(EmbeddedBundlesTest.NAME))).isNull();
    }
}
