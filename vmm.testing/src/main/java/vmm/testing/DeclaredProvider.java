package vmm.testing;

import java.io.InputStream;
import java.util.HashMap;
import java.util.Map;

import javax.xml.parsers.DocumentBuilderFactory;

import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

import vmm.core.device.DeviceProvider;

/**
 * A device provider as its bundle declares it to the framework: the Declarative Services description bnd wrote for
 * the class at build time ({@code OSGI-INF/<class name>.xml} on the class path), with the {@link DeviceProvider#TYPE}
 * and {@link DeviceProvider#IMPLEMENTATION} properties read from there, and an instance made as SCR makes one (the
 * public no-argument constructor). A test that plugs through it fails in milliseconds on what would otherwise only
 * show in a running framework: a misspelt property, a missing {@code service}, a class that is no component.
 *
 * @param type           the {@code vmm.device.type} it declares
 * @param implementation the {@code vmm.device.implementation} it declares
 * @param provider       a new instance of the component class
 */
public record DeclaredProvider(String type, String implementation, DeviceProvider provider) {
    /**
     * Reads {@code component}'s description and makes an instance.
     *
     * @throws AssertionError naming the class and what is wrong with its declaration
     */
    public static DeclaredProvider of(Class<? extends DeviceProvider> component) {
        String name = component.getName();
        String resource = "OSGI-INF/" + name + ".xml";
        Document doc;
        try (InputStream in = component.getClassLoader().getResourceAsStream(resource)) {
            if (in == null)
                throw new AssertionError(name + ": no " + resource + " on the class path: is the class a @Component, "
                        + "and did bnd process the module (mvn process-classes)?");
            DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
            f.setNamespaceAware(true);
            f.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
            doc = f.newDocumentBuilder().parse(in);
        } catch (AssertionError e) {
            throw e;
        } catch (Exception e) {
            throw new AssertionError(name + ": " + resource + " cannot be read: " + e, e);
        }
        Element root = doc.getDocumentElement();
        Element impl = first(root, "implementation");
        if (impl == null || !name.equals(impl.getAttribute("class")))
            throw new AssertionError(name + ": " + resource + " does not implement this class");
        boolean provides = false;
        NodeList services = root.getElementsByTagName("provide");
        for (int i = 0; i < services.getLength(); i++)
            provides |= DeviceProvider.class.getName().equals(((Element) services.item(i)).getAttribute("interface"));
        if (!provides)
            throw new AssertionError(name + ": its component provides no " + DeviceProvider.class.getName()
                    + " service, so the core never sees it (@Component(service = ...)?)");
        Map<String, String> props = new HashMap<>();
        NodeList ps = root.getElementsByTagName("property");
        for (int i = 0; i < ps.getLength(); i++) {
            Element p = (Element) ps.item(i);
            props.put(p.getAttribute("name"), p.getAttribute("value"));
        }
        String type = required(name, props, DeviceProvider.TYPE), implementation = required(name, props,
                DeviceProvider.IMPLEMENTATION);
        try {
            return new DeclaredProvider(type, implementation, component.getConstructor().newInstance());
        } catch (ReflectiveOperationException e) {
            throw new AssertionError(name + ": SCR could not make one either: " + e, e);
        }
    }

    private static Element first(Element root, String tag) {
        NodeList l = root.getElementsByTagName(tag);
        return l.getLength() == 0 ? null : (Element) l.item(0);
    }

    private static String required(String name, Map<String, String> props, String key) {
        String v = props.get(key);
        if (v == null || v.isBlank())
            throw new AssertionError(name + ": its component declares no " + key + " property (it has " + props.keySet()
                    + "), so no device instance would choose it");
        return v;
    }
}
